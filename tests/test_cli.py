"""The console entry points people type: listed in pyproject.toml, each `--help` exits 0 and names its inputs and
outputs, and the `python -m` forms keep working."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = {  # entry point -> (target, words its --help must show: its outputs)
    "weakpose-train": ("weakpose.trainer:main", ["outputs", "checkpoints/last.pt", "metrics.json", "history.csv"]),
    "weakpose-prepare": ("weakpose.data.real.prepare:cli", ["outputs", "canonical dataset", "COMPLETE"]),
    "weakpose-experiments": ("weakpose.experiments:main", ["outputs", "notebook.ipynb", "metrics.json"]),
    "weakpose-tracklets": ("weakpose.tracklets:main", ["outputs", "tracklets.json", "stats.json", "dataset/"]),
    "weakpose-synth": ("weakpose.data.synth.__main__:main", ["outputs", "<twin>-<size>-seed<seed>", "PNG"]),
    "weakpose-predict": ("weakpose.predict:main", ["Outputs", "poses.json", "_overlay.png", "viewer.html"]),
}


def test_pyproject_lists_the_entry_points():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {k: v for k, (v, _) in SCRIPTS.items()}


def test_console_scripts_exit_0_on_success(monkeypatch, tmp_path):
    """A console script exits with its function's return value: prepare's `main` returns the dataset folder, so
    the script is `cli`, which returns 0."""
    from weakpose.data.real import prepare

    monkeypatch.setattr(prepare, "main", lambda argv=None: tmp_path)
    assert prepare.cli(["mpii"]) == 0


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_names_inputs_and_outputs(name, capsys):
    target, words = SCRIPTS[name]
    module, func = target.split(":")
    with pytest.raises(SystemExit) as e:
        getattr(importlib.import_module(module), func)(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "inputs" in text.lower()
    for w in words:
        assert w in text, f"{name} --help does not mention {w!r}"


@pytest.mark.slow
@pytest.mark.parametrize("module", ["weakpose.predict", "weakpose.data.synth"])
def test_python_m_forms(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0 and "outputs" in out.stdout.lower(), out.stderr
