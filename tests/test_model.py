import pytest
import torch

from weakpose import losses
from weakpose.model import PoseNet


def _K(n, size):
    return torch.tensor([[size * 1.5, 0, (size - 1) / 2], [0, size * 1.5, (size - 1) / 2], [0, 0, 1.0]]).expand(n, 3, 3)


def test_small_backbone_outputs():
    m = PoseNet("resnet18", head_channels=32)
    out = m(torch.rand(2, 3, 64, 64) * 255)
    assert out["heatmaps"].shape == out["depth_maps"].shape == (2, 17, 16, 16)
    assert out["uv"].shape == (2, 17, 2) and out["z_rel"].shape == out["conf"].shape == (2, 17)
    assert ((out["uv"] >= 0) & (out["uv"] <= 63)).all()
    assert "points" not in out                           # forward is the 2.5D prediction only
    rec = m.reconstruct(out["uv"], out["z_rel"], _K(2, 64))
    assert rec["points"].shape == (2, 17, 3) and rec["z_root"].shape == rec["valid"].shape == (2,)


def test_hrnet_w32_uses_stride4_high_resolution_branch():
    m = PoseNet("hrnet_w32")
    assert m.heat.in_channels == 32  # the w32 high-resolution branch
    out = m(torch.rand(1, 3, 64, 64) * 255)
    assert out["heatmaps"].shape == (1, 17, 16, 16)


def test_bad_stride_is_reported():
    with pytest.raises(ValueError, match="stride 3"):
        PoseNet("resnet18", stride=3)


def test_heatmap_loss_leaves_depth_weights_untouched():
    """Appendix A: 2D pre-training does not train the latent-depth weights."""
    m = PoseNet("resnet18")
    out = m(torch.rand(2, 3, 64, 64) * 255)
    tgt = losses.gaussian_heatmaps(torch.full((2, 17, 2), 30.0), 16, 16)
    losses.heatmap_loss(out["heatmaps"], tgt, torch.ones(2, 17)).backward()
    assert m.depth.weight.grad is None and m.heat.weight.grad is not None


def test_deeper_feature_map_is_upsampled_to_the_heatmap_stride():
    m = PoseNet("resnet18", feature_stride=16, head_channels=32)
    out = m(torch.rand(1, 3, 64, 64) * 255)
    assert out["heatmaps"].shape == (1, 17, 16, 16)
    assert m.heat.in_channels == 32
    with pytest.raises(ValueError, match="multiple"):
        PoseNet("resnet18", feature_stride=6)


def test_depth_head_starts_at_zero_so_every_reconstruction_is_valid():
    m = PoseNet("resnet18", feature_stride=16, head_channels=16)
    out = m(torch.rand(8, 3, 64, 64) * 255)
    assert torch.equal(out["z_rel"], torch.zeros(8, 17))
    assert m.reconstruct(out["uv"], out["z_rel"], _K(8, 64))["valid"].all()
