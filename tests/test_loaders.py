"""torch Datasets over the canonical format and open_dataset (weakpose.data.loaders), on 'tiny' synthetic twins."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from weakpose import skeleton
from weakpose.data import loaders
from weakpose.data.format import CanonicalDataset
from weakpose.data.loaders import Eval3D, Images2D, MultiView, open_dataset

J = skeleton.J


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def ds(root):
    return {k: open_dataset(k, "synthetic", data_root=root, size="tiny") for k in ("H", "I", "Q", "M")}


def test_images2d_keys_shapes_dtypes(ds):
    data = Images2D([ds["H"], ds["M"]], "train")
    h, m = ds["H"], ds["M"]
    assert len(data) == int(h.split_mask("train").sum() + m.split_mask("train").sum())
    batch = next(iter(DataLoader(data, batch_size=len(data), shuffle=False)))
    B, S = len(data), h.crop_size
    assert batch["image"].shape == (B, S, S, 3) and batch["image"].dtype == torch.uint8
    assert batch["K"].shape == (B, 3, 3) and batch["K"].dtype == torch.float64
    assert batch["joints2d"].shape == (B, J, 2) and batch["joints2d"].dtype == torch.float32
    assert batch["vis2d"].shape == (B, J) and batch["vis2d"].dtype == torch.bool
    assert batch["joints3d"].shape == (B, J, 3) and batch["joints3d"].dtype == torch.float32
    assert batch["has_3d"].dtype == torch.bool and batch["dataset"].dtype == torch.int64
    assert torch.isfinite(batch["joints2d"]).all() and torch.isfinite(batch["joints3d"]).all()
    from_m = batch["dataset"] == 1
    assert batch["has_3d"][~from_m].all() and not batch["has_3d"][from_m].any()
    assert not batch["vis2d"][from_m][:, [7, 9]].any()
    assert (batch["joints3d"][from_m] == 0).all()
    i = int(torch.nonzero(from_m)[0])
    r = int(batch["row"][i])
    assert torch.equal(batch["image"][i], torch.from_numpy(m.image(r)))
    np.testing.assert_allclose(batch["K"][i].numpy(), m.K[r])


def test_images2d_skips_rows_without_2d_and_refuses_mixed_crops(ds, root):
    assert len(Images2D(ds["Q"], "train")) == 0
    other = CanonicalDataset(ds["M"].path)
    other.meta = {**other.meta, "crop_size": 64}
    with pytest.raises(ValueError, match="crop sizes"):
        Images2D([ds["H"], other], "train")


def test_multiview_shapes_and_dtypes(ds):
    mv = MultiView(ds["I"], "train", views=4)
    assert len(mv) == len(ds["I"].groups(ds["I"].split_mask("train")))
    b = next(iter(DataLoader(mv, batch_size=2)))
    S = ds["I"].crop_size
    assert b["image"].shape == (2, 4, S, S, 3) and b["image"].dtype == torch.uint8
    assert b["K"].shape == (2, 4, 3, 3) and b["R"].shape == (2, 4, 3, 3) and b["t"].shape == (2, 4, 3)
    assert b["R"].dtype == torch.float64 and b["has_extrinsics"].all() and b["view_mask"].all()
    assert b["joints2d"].shape == (2, 4, J, 2) and b["vis2d"].shape == (2, 4, J) and b["has_2d"].shape == (2, 4)
    assert b["joints3d"].shape == (2, 4, J, 3) and b["has_3d"].all()
    # the views really are one pose: world coordinates agree
    R, t, X = b["R"][0], b["t"][0], b["joints3d"][0].double()
    Xw = torch.einsum("cij,ckj->cki", R.transpose(1, 2), X - t[:, None])
    assert (Xw - Xw[0]).abs().max() < 1.0


def test_multiview_redraws_views_each_epoch_deterministically(ds):
    mv, again = MultiView(ds["I"], "train", views=4, seed=5), MultiView(ds["I"], "train", views=4, seed=5)
    first = [tuple(mv.select(i)[0]) for i in range(len(mv))]
    assert first == [tuple(again.select(i)[0]) for i in range(len(again))]
    for rows in first:
        assert len(set(rows)) == 4
    mv.set_epoch(1)
    second = [tuple(mv.select(i)[0]) for i in range(len(mv))]
    assert second != first
    mv.set_epoch(0)
    assert [tuple(mv.select(i)[0]) for i in range(len(mv))] == first
    assert [tuple(MultiView(ds["I"], "train", 4, seed=6).select(i)[0]) for i in range(len(mv))] != first


def test_multiview_pads_short_groups_with_a_mask(ds):
    mv = MultiView(ds["H"], "train", views=6)
    item = mv[0]
    assert item["view_mask"].tolist() == [True] * 4 + [False] * 2
    assert item["rows"][4] == item["rows"][0] and len(set(item["rows"][:4].tolist())) == 4
    q = MultiView(ds["Q"], "train", views=4)[0]
    assert not q["has_extrinsics"].any() and not q["has_2d"].any() and not q["has_3d"].any()
    assert torch.equal(q["R"][0], torch.eye(3, dtype=torch.float64)) and q["view_mask"].all()
    assert len(MultiView(ds["M"], "train")) == 0  # single images form no groups


def test_eval3d(ds):
    ev = Eval3D(ds["H"], "test")
    assert len(ev) == int(ds["H"].split_mask("test").sum())
    item = ev[0]
    assert item["subject"] in ("S9", "S11") and isinstance(item["action"], str) and item["has_3d"]
    assert item["joints3d"].shape == (J, 3) and item["image"].dtype == torch.uint8
    b = next(iter(DataLoader(ev, batch_size=3)))
    assert isinstance(b["subject"], list) and len(b["subject"]) == 3
    with pytest.raises(ValueError, match="no rows with 3D"):
        Eval3D(ds["M"], "test")


def test_open_dataset_real_missing_names_path_and_command(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        open_dataset("H", "real", data_root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "real" / "h36m") in msg and "python -m weakpose.data.real.prepare h36m" in msg
    assert not (tmp_path / "synthetic").exists()  # no silent fallback


def test_open_dataset_says_which_source(root, capsys):
    d = open_dataset("Q", "synthetic", data_root=root, size="tiny")
    assert d.source == "synthetic"
    assert "[weakpose] data source: SYNTHETIC twin Q (tiny, seed 0)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown dataset key"):
        open_dataset("X", "synthetic", data_root=root)
    with pytest.raises(ValueError, match="source must be"):
        open_dataset("H", "fake", data_root=root)


def test_open_dataset_real_reads_a_converted_dataset(root, capsys):
    import shutil
    src = loaders.real_dir("M", root)
    shutil.copytree(root / "synthetic" / "M-tiny-seed0", src)
    with pytest.raises(ValueError, match="expected a real one"):
        open_dataset("M", "real", data_root=root)  # a twin copied there is not silently accepted as real
    meta = src / "meta.json"
    meta.write_text(meta.read_text().replace('"source": "synthetic"', '"source": "real"'))
    d = open_dataset("M", "real", data_root=root)
    assert d.source == "real" and "[weakpose] data source: REAL mpii" in capsys.readouterr().out
