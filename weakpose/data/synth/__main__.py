"""``python -m weakpose.data.synth``: generate the synthetic twins, or draw their figure."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from weakpose.data.format import data_root
from weakpose.data.synth import figure, twins


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m weakpose.data.synth", description=twins.__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="inputs: none (procedural; same seed, same bytes).\n"
               "outputs: --twin: <out>/<twin>-<size>-seed<seed>/, a canonical dataset (meta.json, index/, images/,\n"
               "  extra/, COMPLETE); --figure FILE: a PNG of samples of each twin with their 2D ground truth.")
    p.add_argument("--twin", choices=[*twins.TWINS, "all"], help="which twin to generate")
    p.add_argument("--size", choices=list(twins.SIZES), default="small")
    p.add_argument("--out", type=Path, default=None,
                   help="folder that receives <twin>-<size>-seed<seed>/ (default: <data_root>/synthetic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--figure", type=Path, default=None, help="write the twins figure (PNG) instead")
    a = p.parse_args(argv)
    if a.figure is not None:
        figure.make_figure(a.figure, size=a.size, folder=a.out, seed=a.seed)
        return 0
    if a.twin is None:
        p.error("give --twin or --figure")
    out = a.out if a.out is not None else data_root() / "synthetic"
    for twin in twins.TWINS if a.twin == "all" else (a.twin,):
        twins.generate_twin(twin, a.size, out / f"{twin}-{a.size}-seed{a.seed}", a.seed, a.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
