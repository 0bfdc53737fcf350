"""Progress bars that fit where they run (`weakpose.progress`): the mode chosen for a terminal, a redirected
stream, a kernel with and without a frontend, the override, and what "log" mode writes."""
import io
import sys

import pytest
from tqdm import std

from weakpose import progress


class _TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clean_env(monkeypatch):
    for k in (progress.ENV, "JPY_SESSION_NAME"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(progress, "_in_kernel", lambda: False)
    return monkeypatch


def test_mode_outside_a_kernel(clean_env):
    clean_env.setattr(sys, "stderr", _TTY())
    assert progress.mode() == "terminal"
    clean_env.setattr(sys, "stderr", io.StringIO())  # redirected to a file / pipe
    assert progress.mode() == "log"


def test_mode_in_a_kernel(clean_env):
    clean_env.setattr(progress, "_in_kernel", lambda: True)
    clean_env.setattr(sys, "stderr", _TTY())
    assert progress.mode() == "log"                     # papermill / nbclient / nbval: no frontend
    clean_env.setenv("JPY_SESSION_NAME", "/work/notebooks/explore.ipynb")  # a JupyterLab kernel
    clean_env.setattr(progress, "_widgets_available", lambda: True)
    assert progress.mode() == "widget"
    clean_env.setattr(progress, "_widgets_available", lambda: False)
    assert progress.mode() == "log"                     # no ipywidgets: plain lines, never a broken widget


def test_override(clean_env):
    clean_env.setattr(sys, "stderr", _TTY())
    for m in ("log", "terminal", "off"):
        clean_env.setenv(progress.ENV, m)
        assert progress.mode() == m
    clean_env.setenv(progress.ENV, "fancy")
    with pytest.raises(ValueError, match="WEAKPOSE_PROGRESS='fancy'"):
        progress.mode()
    clean_env.setenv(progress.ENV, "off")
    assert progress.progress_bar(total=10).disable


def test_log_mode_writes_a_few_plain_lines(clean_env):
    """10,000 fast updates: at most LOG_LINES + 2 lines (start, every 1/20, end), no carriage return."""
    clean_env.setenv(progress.ENV, "log")
    out = io.StringIO()
    bar = progress.progress_bar(total=10_000, desc="train", file=out, mininterval=0)
    for i in range(10_000):
        bar.update(1)
        if i % 10 == 0:
            bar.set_postfix(loss="0.5")  # as the trainer does on logging steps: no line of its own
    bar.close()
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text, text
    assert 3 <= len(lines) <= progress.LOG_LINES + 2, lines
    assert lines[0].startswith("train:   0%") and "10000/10000" in lines[-1] and "loss=0.5" in lines[-1]
    out = io.StringIO()
    for _ in progress.progress_bar(range(10_000), file=out):  # the default: a line every 30 s at most
        pass
    assert len(out.getvalue().splitlines()) == 2


def test_terminal_mode_is_the_standard_bar(clean_env):
    clean_env.setenv(progress.ENV, "terminal")
    out = io.StringIO()
    bar = progress.progress_bar(range(5), file=out)
    assert type(bar) is std.tqdm and bar.mininterval == progress.TERMINAL_INTERVAL_S
    list(bar)
    assert "\r" in out.getvalue()


def test_nested_bars_in_log_mode_move_no_cursor(clean_env):
    clean_env.setenv(progress.ENV, "log")
    out = io.StringIO()
    with progress.progress_bar(total=3, file=out, desc="outer") as outer:
        for _ in range(3):
            for _ in progress.progress_bar(range(4), file=out, desc="inner", leave=False):
                pass
            outer.update(1)
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text and "inner" in text and "3/3" in text.splitlines()[-1]


def test_log_mode_keeps_its_line_budget_after_slow_steps(clean_env):
    """Slow steps (longer than tqdm's maxinterval) must not switch the bar to a line per step: tqdm's monitor
    thread (started by any standard bar) never sees a log-mode bar."""
    import time

    clean_env.setenv(progress.ENV, "log")
    out = io.StringIO()
    bar = progress.progress_bar(total=400, file=out, mininterval=0.02, maxinterval=0.02)
    std_bar = std.tqdm(total=1, file=io.StringIO())
    assert std_bar in std.tqdm._instances and bar not in std.tqdm._instances
    std_bar.close()
    for i in range(400):
        if i < 3:
            time.sleep(0.05)
        bar.update(1)
    bar.close()
    assert bar.miniters == 400 // progress.LOG_LINES
    assert len(out.getvalue().splitlines()) <= progress.LOG_LINES + 2


def _kernel_outputs(env_extra: dict) -> list[dict]:
    """Outputs of a real ipykernel running a 200-step bar, started like papermill / JupyterLab start theirs."""
    import os
    from pathlib import Path

    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if k not in (progress.ENV, "JPY_SESSION_NAME")}
    env["PYTHONPATH"] = str(Path(progress.__file__).resolve().parent.parent)
    km, kc = start_new_kernel(kernel_name="python3", env={**env, **env_extra})
    outputs = []
    try:
        code = ("from weakpose.progress import progress_bar, mode\nprint(mode())\n"
                "for _ in progress_bar(range(200), desc='steps', mininterval=0):\n    pass\n")
        kc.execute_interactive(code, timeout=120, output_hook=lambda m: outputs.append(m))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return [m["content"] for m in outputs if m["msg_type"] in ("stream", "display_data")]


@pytest.mark.slow
def test_in_real_kernels():
    """A kernel without a frontend (as papermill starts it) prints a few plain lines; one that jupyter_server
    started (JPY_SESSION_NAME set) shows a widget."""
    stream = lambda outs, name: "".join(o.get("text", "") for o in outs if o.get("name") == name)  # noqa: E731
    plain = _kernel_outputs({})
    text = stream(plain, "stderr")
    assert stream(plain, "stdout") == "log\n" and "\r" not in text and "200/200" in text
    assert len(text.splitlines()) <= progress.LOG_LINES + 2
    pytest.importorskip("ipywidgets")
    lab = _kernel_outputs({"JPY_SESSION_NAME": "/tmp/explore.ipynb"})
    assert stream(lab, "stdout") == "widget\n"
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in lab)
