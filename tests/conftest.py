import os

import numpy as np
import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """A data folder holding the tiny H and M twins (a test module may define its own ``data_root``)."""
    root = tmp_path_factory.mktemp("data")
    from weakpose.data.synth.twins import ensure_twin
    for key in ("H", "M"):
        ensure_twin(key, "tiny", root=root)
    return root
