"""The 2.5D heatmap network of Sec. 3.2: a timm backbone at stride 4 and a head with 2J channels
(J 2D heatmaps H^2D, J latent depth maps H^z), followed by the parameter-free layers of eqs. 1-5.

No pretrained weights are ever downloaded (``pretrained=False`` everywhere): the 2D pre-training of Appendix A is
part of the weakpose pipeline.
"""
from __future__ import annotations

import timm
import torch
from torch import nn

from weakpose import geometry, skeleton

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _backbone(name: str, stride: int) -> tuple[nn.Module, int]:
    """A timm feature extractor returning one map at ``stride``; HRNets use their high-resolution branch."""
    kwargs = {"feature_location": ""} if name.startswith("hrnet") else {}
    probe = timm.create_model(name, pretrained=False, features_only=True, **kwargs)
    reductions = probe.feature_info.reduction()
    if stride not in reductions:
        raise ValueError(f"backbone {name!r} has no feature map at stride {stride} (has {reductions})")
    idx = reductions.index(stride)
    model = timm.create_model(name, pretrained=False, features_only=True, out_indices=(idx,), **kwargs)
    return model, model.feature_info.channels()[0]


class PoseNet(nn.Module):
    """Backbone + 2.5D head: images in, the 2.5D pose of Sec. 3.2 out (2D heatmaps, eq. 4's soft-argmax, eq. 5's
    relative depth). The 3D reconstruction of eqs. 1-3 is a separate step, `reconstruct`, that the weak losses
    (`weak.weak_losses`) and the evaluation (`evaluate.forward`) run on that output in fp32.

    Args:
        backbone: timm model name ("hrnet_w32" in the paper; "resnet18" is a small CPU choice).
        num_joints: J. stride: effective stride of the heatmaps (4). temperature: lambda of eq. 4.
        head_channels: width of the 3x3 conv before the final 1x1 (0 = a single 1x1 conv).
        feature_stride: stride of the backbone map to use (0 = ``stride``). A shallow stride-4 map of a ResNet
            sees only a small patch of the person; e.g. ``resnet18`` with feature_stride 16 is upsampled x4.
        invalid_views, hinge_margin: how `reconstruct` treats a view without a real root of eq. 3 ("mask": the
            paper; "hinge": placed at the closest approach, with a validity penalty; `geometry.reconstruct`).
    """

    def __init__(self, backbone: str = "hrnet_w32", num_joints: int = skeleton.J, stride: int = 4,
                 temperature: float = 50.0, head_channels: int = 0, feature_stride: int = 0,
                 invalid_views: str = "mask", hinge_margin: float = 0.0):
        super().__init__()
        if invalid_views not in ("mask", "hinge"):
            raise ValueError(f"invalid_views must be 'mask' or 'hinge', got {invalid_views!r}")
        self.num_joints, self.stride, self.temperature = num_joints, stride, temperature
        self.invalid_views, self.hinge_margin = invalid_views, hinge_margin
        feature_stride = feature_stride or stride
        if feature_stride % stride:
            raise ValueError(f"feature_stride {feature_stride} must be a multiple of stride {stride}")
        self.backbone, ch = _backbone(backbone, feature_stride)
        layers: list[nn.Module] = []
        if feature_stride != stride:
            # A backbone without a deep stride-4 output (e.g. a ResNet): take a deeper map and upsample it to the
            # heatmap stride, Simple-Baselines style (bilinear x f, then the conv below).
            layers.append(nn.Upsample(scale_factor=feature_stride // stride, mode="bilinear", align_corners=False))
            head_channels = head_channels or ch
        if head_channels:
            layers += [nn.Conv2d(ch, head_channels, 3, padding=1, bias=False), nn.BatchNorm2d(head_channels),
                       nn.ReLU(inplace=True)]
            ch = head_channels
        self.shared = nn.Sequential(*layers) if layers else nn.Identity()
        self.heat = nn.Conv2d(ch, num_joints, 1)
        self.depth = nn.Conv2d(ch, num_joints, 1)
        self.reset_depth_head()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)

    def reset_depth_head(self) -> None:
        """Initialise the latent-depth layer to zero (Appendix A: it is not pre-trained).

        Zero latent depth means a fronto-parallel pose at the root depth, which eq. 3 always reconstructs (the
        discriminant is a.a > 0). A random init gives |z^r_neck| of order 1 and beyond, where eq. 3 has no real root:
        measured on the synthetic H twin, L_MC and L_B were exactly 0 on most WS+R steps of a 64 px profile
        because every sample of the batch was invalid, so the depth head got no gradient."""
        nn.init.zeros_(self.depth.weight)
        nn.init.zeros_(self.depth.bias)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float in [0, 255] -> ImageNet-normalised."""
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args:
            images: (B, 3, H_in, W_in) float RGB in [0, 255] (channels_last welcome).
        Returns the 2.5D prediction, a dict (fp32 also under autocast):
            heatmaps (B, J, H, W) raw H^2D; probs (B, J, H, W) normalised H-bar^2D (eq. 4); depth_maps (B, J, H, W)
            H^z; uv (B, J, 2) px of the input image (eq. 4); z_rel (B, J) scale-normalised relative depth (eq. 5);
            conf (B, J) phi = H^2D at uv (no gradient).
        """
        feats = self.shared(self.backbone(self.normalise(images))[0])
        heatmaps = self.heat(feats).float()
        depth_maps = self.depth(feats).float()
        uv, probs = geometry.soft_argmax(heatmaps, self.stride, self.temperature)
        return {
            "heatmaps": heatmaps, "probs": probs, "depth_maps": depth_maps, "uv": uv,
            "z_rel": geometry.relative_depth(probs, depth_maps),
            "conf": geometry.heatmap_confidence(heatmaps.detach(), uv.detach(), self.stride),
        }

    def reconstruct(self, uv: torch.Tensor, z_rel: torch.Tensor, K: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eqs. 1-3 on a 2.5D pose (uv (B, J, 2) px of the input, z_rel (B, J), K (B, 3, 3) px of the input), with
        this model's treatment of invalid views: points (B, J, 3) scale-normalised, z_root (B,), valid (B,) bool,
        and with invalid_views="hinge" validity (B,), the penalty of `geometry.reconstruct`."""
        rec = geometry.reconstruct(uv, z_rel, K.float(), invalid=self.invalid_views, hinge_margin=self.hinge_margin)
        out = {"points": rec[0], "z_root": rec[1], "valid": rec[2]}
        if self.invalid_views == "hinge":
            out["validity"] = rec[3]
        return out

    @classmethod
    def from_config(cls, cfg) -> "PoseNet":
        """The network a `TrainConfig` describes."""
        return cls(cfg.backbone, stride=cfg.stride, temperature=cfg.temperature, head_channels=cfg.head_channels,
                   feature_stride=cfg.feature_stride, invalid_views=cfg.invalid_views, hinge_margin=cfg.hinge_margin)


def load_checkpoint(path, device="cpu"):
    """Rebuild a model from a trainer checkpoint's own config. ``device``: "auto", "cpu", "cuda" or a torch.device.
    Returns (model in eval mode, TrainConfig, state). Raises FileNotFoundError if ``path`` is missing,
    `weakpose.checkpoints.UnreadableCheckpoint` (a ValueError) if it is damaged, not a weakpose checkpoint, or
    carries pickled Python objects (never unpickled)."""
    from pathlib import Path

    from weakpose.checkpoints import read_checkpoint
    from weakpose.config import config_from_dict, resolve_device

    device = resolve_device(device)
    # weights_only=True: a checkpoint carrying pickled objects is refused (UnreadableCheckpoint, naming the file)
    from weakpose.checkpoints import UnreadableCheckpoint

    state = read_checkpoint(Path(path), map_location=device, required=("config", "model"))
    try:
        cfg = config_from_dict(state["config"], source=f"{path} config")
    except ValueError as e:
        raise UnreadableCheckpoint(Path(path), f"its config is not a valid weakpose configuration ({e})") from None
    model = PoseNet.from_config(cfg).to(device)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        first = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), str(e).splitlines()[0])
        raise UnreadableCheckpoint(Path(path), "its weights do not fit the model its own config describes "
                                   f"(backbone {cfg.backbone}, head_channels {cfg.head_channels}): {first}") from None
    return model.eval(), cfg, state
