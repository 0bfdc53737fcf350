"""Notebook tests (`pytest --nbval-lax`): every notebook is executed with its stored default parameters, on the
smoke profile, into a temporary results folder and a temporary data folder.

nbval starts a notebook's kernel while setting up the notebook's first cell, and the kernel inherits the
environment of this process at that moment. So the variables of the notebooks' test hook (their second code cell)
are set before each notebook cell here, and put back after it: tests outside notebooks/ never see them.

    WEAKPOSE_NOTEBOOK_PROFILE=smoke   the profile the notebooks use
    WEAKPOSE_RESULTS=<tmp>/results    their results_root (shared: results.ipynb and explore.ipynb see earlier runs)
    WEAKPOSE_DATA=<tmp>/data          read by weakpose.data itself: the tiny synthetic twins are generated once
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_state: dict = {}


def _env() -> dict[str, str]:
    if "tmp" not in _state:
        _state["tmp"] = tempfile.mkdtemp(prefix="weakpose-notebooks-")
    tmp = _state["tmp"]
    return {"WEAKPOSE_NOTEBOOK_PROFILE": "smoke", "WEAKPOSE_RESULTS": os.path.join(tmp, "results"),
            "WEAKPOSE_DATA": os.path.join(tmp, "data")}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    env = _env()
    _state["saved"] = {k: os.environ.get(k) for k in env}
    os.environ.update(env)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    for k, v in _state.pop("saved", {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def pytest_unconfigure(config):
    if "tmp" in _state:
        shutil.rmtree(_state.pop("tmp"), ignore_errors=True)
