"""Wall time of the README's quickstart from a fresh clone, on a fresh data folder, measured N times in a row.

    python benchmarks/quickstart_time.py --runs 2 --out results/bench/quickstart.json

Each run clones the repository's HEAD into a new temporary folder, points ``WEAKPOSE_DATA`` at an empty folder in
it (so the synthetic twins are generated inside the timed window) and times ``papermill notebooks/ablation.ipynb
out.ipynb`` there: Table 1's row "WS M/-/H" under ours at profile ``cpu``, its shared 2D model included; then a
second row in the same clone that reuses that shared model, "WS+R M/-/H" (``-p known_R True``). The Python
environment is this one (the package is imported from the clone: ``PYTHONPATH``), so installation is not timed.

Writes a JSON list of records (commit, CPU, cores, seconds of each command, and every metrics.json the runs wrote
with its SHA-256: two runs on one machine must agree byte for byte). Nothing is written outside the temporary
folders and ``--out``; the temporary folders are removed unless ``--keep``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from weakpose.bench import cpu_flags  # noqa: E402

COMMANDS = {
    "quickstart": [sys.executable, "-m", "papermill", "notebooks/ablation.ipynb", "out.ipynb"],
    "second_row": [sys.executable, "-m", "papermill", "notebooks/ablation.ipynb", "out2.ipynb",
                   "-p", "known_R", "True"],
}


def one_run(repo: Path, keep: bool) -> dict:
    """Clone ``repo`` into a fresh temporary folder and time each of `COMMANDS` there, in order."""
    tmp = Path(tempfile.mkdtemp(prefix="weakpose-quickstart-"))
    try:
        clone = tmp / "weakpose"
        subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True,
                                check=True).stdout.strip()
        env = {**os.environ, "WEAKPOSE_DATA": str(tmp / "data"), "PYTHONPATH": str(clone)}
        env.pop("WEAKPOSE_NOTEBOOK_PROFILE", None)
        rec = {"commit": commit, **cpu_flags(), "seconds": {}}
        for name, cmd in COMMANDS.items():
            t = time.perf_counter()
            r = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True)
            rec["seconds"][name] = round(time.perf_counter() - t, 1)
            if r.returncode:
                raise SystemExit(f"{' '.join(cmd)} failed in {clone} (rc {r.returncode}):\n{r.stderr[-3000:]}")
            print(f"[quickstart_time] {name}: {rec['seconds'][name]:.0f} s", flush=True)
        rec["metrics"] = {}
        for m in sorted((clone / "runs").rglob("metrics.json")):
            data = m.read_bytes()
            rec["metrics"][str(m.parent.relative_to(clone / "runs"))] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                **{k: v for k, v in json.loads(data).items() if isinstance(v, (int, float)) and k != "run_id"}}
        return rec
    finally:
        if keep:
            print(f"[quickstart_time] kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--repo", type=Path, default=REPO, help="repository to clone (default: this one)")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write (a list of records)")
    p.add_argument("--keep", action="store_true", help="keep the temporary clones")
    a = p.parse_args(argv)
    recs = []
    for i in range(a.runs):
        recs.append(one_run(a.repo, a.keep))
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(recs, indent=1) + "\n")  # after each run: nothing lost on interruption
    print(f"[quickstart_time] wrote {a.out}")


if __name__ == "__main__":
    main()
