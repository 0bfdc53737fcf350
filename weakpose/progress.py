"""Progress bars that fit where they run: the one place where weakpose makes a tqdm.

    where it runs                                   mode        what is shown
    JupyterLab / Notebook 7 (a jupyter_server       "widget"    a tqdm.notebook widget (needs ipywidgets; without
      kernel: JPY_SESSION_NAME is set)                          it: "log")
    any other kernel: papermill, nbclient, nbval    "log"       one plain ASCII line per refresh, no carriage
      (no frontend to draw a widget)                            returns, at most every LOG_INTERVAL_S seconds and
                                                                every 1/LOG_LINES of the total: a few dozen lines
    a terminal (stderr is a TTY)                    "terminal"  the standard bar, redrawn at most every 0.5 s
    stderr redirected to a file or pipe             "log"

``WEAKPOSE_PROGRESS`` = widget | log | terminal | off overrides the choice (the experiments runner sets "log" for
the kernels it starts, since they inherit a JupyterLab kernel's environment when the runner is called from one).
Layer 0: imports nothing of weakpose.
"""
from __future__ import annotations

import os
import sys
from weakref import WeakSet

from tqdm import std

ENV = "WEAKPOSE_PROGRESS"
MODES = ("widget", "log", "terminal", "off")
LOG_INTERVAL_S = 30.0   # "log" mode: at most one line per bar every 30 s ...
LOG_LINES = 20          # ... and per 1/20 of the total when it is known (so at most ~22 lines per bar)
TERMINAL_INTERVAL_S = 0.5


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (ipykernel), whatever the client."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def mode() -> str:
    """The progress mode for this process (module docstring). Raises ValueError for an unknown WEAKPOSE_PROGRESS."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced:
        if forced not in MODES:
            raise ValueError(f"environment variable {ENV}={forced!r}: expected one of {', '.join(MODES)}")
        return "log" if forced == "widget" and not _widgets_available() else forced
    if _in_kernel():
        interactive = bool(os.environ.get("JPY_SESSION_NAME"))  # set by jupyter_server for its kernels only
        return "widget" if interactive and _widgets_available() else "log"
    isatty = getattr(sys.stderr, "isatty", None)
    return "terminal" if isatty is not None and isatty() else "log"


class _Lines:
    """A file for tqdm in "log" mode: each status write ('\\r' + bar + padding) becomes one line of its own;
    bare carriage returns and newlines (tqdm's clearing and closing) are dropped, and so is a repeated line."""

    def __init__(self, fp):
        self.fp, self.last = fp, None

    def write(self, s: str) -> None:
        line = str(s).replace("\r", "").replace("\n", "").rstrip()
        if line and line != self.last:
            self.fp.write(line + "\n")
            self.last = line

    def flush(self) -> None:
        getattr(self.fp, "flush", lambda: None)()


class _LogBar(std.tqdm):
    """tqdm of "log" mode: a postfix or description change waits for the next line instead of printing one, and
    nested bars print their lines in turn (no cursor movement). Out of reach of tqdm's monitor thread (own instance
    set, none started): after a slow step it would reset miniters to 1 and print a line per step from then on."""

    monitor_interval = 0
    _instances = WeakSet()

    def moveto(self, n):
        pass

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc=None, refresh=True):
        super().set_description(desc, refresh=False)


def progress_bar(iterable=None, *, total: int | None = None, disable: bool | None = False, file=None, **kwargs):
    """A tqdm for where this runs (module docstring); arguments as tqdm's. ``disable=None`` (tqdm: off without a
    TTY) counts as False here: without a TTY the "log" mode is used instead. ``WEAKPOSE_PROGRESS=off`` disables
    every bar."""
    m = mode()
    disable = bool(disable) or m == "off"
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if m == "widget" and file is None:
        from tqdm.notebook import tqdm as widget

        return widget(iterable, total=total, disable=disable, **kwargs)
    if m == "terminal":
        kwargs.setdefault("mininterval", TERMINAL_INTERVAL_S)
        kwargs.setdefault("dynamic_ncols", True)
        return std.tqdm(iterable, total=total, disable=disable, file=file, **kwargs)
    kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    kwargs["maxinterval"] = max(kwargs.get("maxinterval", 0), kwargs["mininterval"])
    if total:
        kwargs.setdefault("miniters", max(1, int(total) // LOG_LINES))
    return _LogBar(iterable, total=total, disable=disable, file=_Lines(file or sys.stderr), ascii=True, ncols=100,
                   dynamic_ncols=False, **kwargs)
