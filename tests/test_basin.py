"""The basin test (`weakpose.basin`): both branches start from one state on the same batches, the one with the lower
weak objective is kept exactly, the outcome is recorded, and the test is a pure function of its starting state."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from weakpose import basin, mirror
from weakpose.config import make_config


def _cfg(data_root, **kw):
    return make_config("smoke", data_root=str(data_root), sup2d="M", mv="H", iterations=8, lr_drop_step=6,
                       ckpt_every=2, chirality_weight=1.0, basin_test_at=0.25, pretrain_2d=False, **kw)


def _plain(cfg, out, flip_at=None):
    """The same run without the test, stepped by hand: the depth sign flipped at main step ``flip_at``."""
    from weakpose.trainer import Run
    run = Run(dataclasses.replace(cfg, basin_test_at=0.0), out, torch.device("cpu"), verbose=False)
    it2, itm = run.loader_2d(0), run.loader_mv(0)
    for step in range(4):
        if step == flip_at:
            mirror.flip_depth_sign(run.model, run.opt)
            it2, itm = run.loader_2d(step), run.loader_mv(step)
        run.train_step(*run.next_batches(it2, itm), True)
    return run


@pytest.mark.parametrize("scores,flipped", [((1.0, 2.0), False), ((2.0, 1.0), True)])
def test_the_lower_branch_is_kept_exactly(data_root, tmp_path, monkeypatch, scores, flipped):
    from weakpose.trainer import Run
    cfg = _cfg(data_root)
    assert basin.steps(cfg) == (2, 1)
    calls = iter(scores)
    monkeypatch.setattr(basin, "score", lambda trainer, batches: next(calls))
    run = Run(cfg, tmp_path / "run", torch.device("cpu"), verbose=False)
    it2, itm = run.loader_2d(0), run.loader_mv(0)
    for _ in range(2):
        run.train_step(*run.next_batches(it2, itm), True)
    assert basin.due(run)
    rows = basin.basin_test(run)
    assert len(rows) == 1 and run.step == 3
    assert run.mirror.basin == {"main_step": 2, "score_kept": scores[0], "score_flipped": scores[1], "flipped": flipped}
    # the kept branch is the plain run's next step (as is, or from the flipped state), exactly
    ref = _plain(cfg, tmp_path / "ref", flip_at=2 if flipped else None)
    ref_state = ref.model.state_dict()
    it2, itm = run.loader_2d(3), run.loader_mv(3)
    run.train_step(*run.next_batches(it2, itm), True)
    for k, v in run.model.state_dict().items():
        torch.testing.assert_close(v, ref_state[k], rtol=0, atol=0, msg=k)


def test_a_run_with_the_test_records_it_logs_every_step_and_resumes_through_it(data_root, tmp_path):
    from weakpose.trainer import Run
    cfg = _cfg(data_root)
    metrics = Run(cfg, tmp_path / "a", torch.device("cpu"), verbose=False).fit()
    rec = metrics["basin_test"]
    assert rec["main_step"] == 2 and np.isfinite([rec["score_kept"], rec["score_flipped"]]).all()
    assert rec["flipped"] == (rec["score_flipped"] < rec["score_kept"])
    hist = pd.read_csv(tmp_path / "a" / "history.csv")
    assert list(hist["step"]) == list(range(8))
    # interrupted at the test's step (its checkpoint is there), resumed: the same test, the same model
    assert Run(cfg, tmp_path / "b", torch.device("cpu"), verbose=False).fit(stop_after=2) is None
    again = Run(cfg, tmp_path / "b", torch.device("cpu"), verbose=False).fit()
    assert again["basin_test"] == rec and again["mpjpe"] == metrics["mpjpe"]


def test_the_score_is_the_weak_objective_and_changes_nothing(data_root, tmp_path):
    from weakpose.trainer import Run
    run = Run(_cfg(data_root), tmp_path / "run", torch.device("cpu"), verbose=False)
    batches = [run.next_batches(run.loader_2d(0), run.loader_mv(0))]
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    s = basin.score(run, batches)
    assert s == basin.score(run, batches) and run.model.training
    for k, v in run.model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    run.model.eval()
    with torch.no_grad():
        t = run.loss_terms(*batches[0], basin.SCORE_STEP, True)
    c = run.cfg
    want = c.alpha * t["mc"] + c.beta * t["limb"] + c.validity_weight * t["validity"] \
        + c.chirality_weight * t["chirality"] + c.foreshortening_weight * t["foreshortening"]
    assert s == pytest.approx(float(want), rel=1e-6)


def test_the_basin_test_is_a_weak_term_switch_with_checked_fractions():
    assert make_config("smoke", sup2d="H+M", sup3d="H", mv="", basin_test_at=0.25).basin_test_at == 0.0
    for at, n in ((0.9, 0.125), (0.5, 0.0), (0.5, 0.6)):
        with pytest.raises(ValueError, match="basin_test"):
            make_config("smoke", mv="H", basin_test_at=at, basin_test_steps=n)


def test_on_free_depths_the_basin_test_leaves_the_mirror_and_keeps_the_truth(data_root):
    """The ladder's pin (benchmarks/mirror_rung.py, variant ours+basin): every view of every group started at its
    depth mirror stays mirrored under plain descent of ours's objective, and the basin test (all groups standing
    for one network) takes them all back to the truth's side; started at the truth it keeps it. Under it, the
    mirrored truth scores worse than the truth on every group."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import mirror_rung
    from test_mirror import _groups, _scores
    from weakpose.config import make_run_config
    (B, C), uv, zg, K, _, mb = _groups(data_root)
    cfg = dataclasses.replace(make_run_config("smoke", formulation="ours", sup2d="M", mv="H"), basin_test_at=0.25)
    truth, _ = _scores(cfg, (B, C), uv, zg, K, mb)
    mirrored, _ = _scores(cfg, (B, C), uv, -zg, K, mb)
    assert (truth < mirrored).all()
    plain = dataclasses.replace(cfg, basin_test_at=0.0)
    for start, want in ((-zg, 0.0), (zg, 0.0)):
        z, flips = mirror_rung.descend(cfg, uv, start, K, mb, B, C, 40, 0.02)
        assert float((mirror_rung.slope(z, zg) < 0).float().mean()) == want
        assert flips == (B if start is not zg else 0)
    z, _ = mirror_rung.descend(plain, uv, -zg, K, mb, B, C, 40, 0.02)
    assert float((mirror_rung.slope(z, zg) < 0).float().mean()) > 0.9
