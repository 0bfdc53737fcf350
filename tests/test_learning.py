"""Learning check on CPU: fully supervised training on a small subset of twin H (the tiny twin's training split)
must drive the 2D error and the MPJPE down by a stated margin, measured on those images without augmentation.
Generalisation to H-test at scale is the GPU issue's job; this proves data -> augmentation -> model -> losses ->
optimiser -> evaluation learn together."""
import pytest
import torch

from weakpose.config import make_config
from weakpose.trainer import Run

# Margins (fraction of the untrained model's error that must be gone after training).
MARGIN_2D = 0.6
MARGIN_3D = 0.6


@pytest.mark.slow
def test_fs_drives_2d_error_and_mpjpe_down(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKPOSE_DATA", str(tmp_path / "data"))
    torch.manual_seed(0)
    # 2D pre-training first, as the paper does (Appendix A), then L_H + psi L_z.
    cfg = make_config("smoke", sup2d="H", sup3d="H", mv="", pretrain_2d=True, pretrain_iterations=200,
                      pretrain_lr=1e-3, iterations=150, lr_drop_step=120, lr=1e-3, batch_2d=16, aug_scale=0.1,
                      aug_rotation=15.0, log_every=50, ckpt_every=10 ** 6)
    run = Run(cfg, tmp_path / "run", device=torch.device("cpu"), verbose=False)
    before = run.evaluate("train", write=False)
    run.fit()
    after = run.evaluate("train", write=False)
    print(f"2D error {before['mpjpe_2d_px']:.2f} -> {after['mpjpe_2d_px']:.2f} px, "
          f"MPJPE {before['mpjpe']:.1f} -> {after['mpjpe']:.1f} mm, N-MPJPE {before['n_mpjpe']:.1f} -> {after['n_mpjpe']:.1f}")
    assert after["mpjpe_2d_px"] < (1 - MARGIN_2D) * before["mpjpe_2d_px"]
    assert after["mpjpe"] < (1 - MARGIN_3D) * before["mpjpe"]
