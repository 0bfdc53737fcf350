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
    """Backbone + 2.5D head.

    Args:
        backbone: timm model name ("hrnet_w32" in the paper; "resnet18" is a small CPU choice).
        num_joints: J. stride: effective stride of the heatmaps (4). temperature: lambda of eq. 4.
        head_channels: width of the 3x3 conv before the final 1x1 (0 = a single 1x1 conv).
        feature_stride: stride of the backbone map to use (0 = ``stride``). A shallow stride-4 map of a ResNet
            sees only a small patch of the person; e.g. ``resnet18`` with feature_stride 16 is upsampled x4.
        root_depth: "neck" (eq. 3) or "bones" (ours: the root depth fitted to all 16 bones with the eq. 11 means
            ``mean_bone``, (16,) scale-normalised, kept as a buffer so a checkpoint carries it; see
            `geometry.reconstruct`).
    """

    def __init__(self, backbone: str = "hrnet_w32", num_joints: int = skeleton.J, stride: int = 4,
                 temperature: float = 50.0, head_channels: int = 0, feature_stride: int = 0,
                 detach_2d_3d: bool = False, invalid_views: str = "mask", hinge_margin: float = 0.0,
                 depth_grad_scale: float = 1.0, free_2d_joints: tuple[int, ...] = (), free_2d_grad_scale: float = 1.0,
                 root_depth: str = "neck", mean_bone: torch.Tensor | None = None):
        super().__init__()
        if root_depth not in ("neck", "bones"):
            raise ValueError(f"root_depth must be 'neck' or 'bones', got {root_depth!r}")
        if root_depth == "bones":
            if mean_bone is None or tuple(torch.as_tensor(mean_bone).shape) != (len(skeleton.BONES),):
                raise ValueError(f"root_depth='bones' needs mean_bone of shape ({len(skeleton.BONES)},), the "
                                 f"scale-normalised mean bone lengths of eq. 11")
            self.register_buffer("mean_bone", torch.as_tensor(mean_bone, dtype=torch.float32).clone())
        self.root_depth = root_depth
        self.num_joints, self.stride, self.temperature = num_joints, stride, temperature
        self.detach_2d_3d, self.invalid_views, self.hinge_margin = detach_2d_3d, invalid_views, hinge_margin
        self.depth_grad_scale, self.free_2d_grad_scale = depth_grad_scale, free_2d_grad_scale
        free = torch.zeros(num_joints, dtype=torch.bool)
        free[list(free_2d_joints)] = True
        self.register_buffer("free_2d", free, persistent=False)
        self.any_free_2d = bool(free_2d_joints)   # a Python bool: no host sync in forward
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
        measured on the synthetic H twin, L_MC and L_B were exactly 0 on most WS+R steps of the 'small' profile
        because every sample of the batch was invalid, so the depth head got no gradient."""
        nn.init.zeros_(self.depth.weight)
        nn.init.zeros_(self.depth.bias)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float in [0, 255] -> ImageNet-normalised."""
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor, K: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Args:
            images: (B, 3, H_in, W_in) float RGB in [0, 255] (channels_last welcome).
            K: (B, 3, 3) px intrinsics of the input images, or None to skip the 3D reconstruction.
        Returns a dict:
            heatmaps (B, J, H, W) raw H^2D; probs (B, J, H, W) normalised H-bar^2D (eq. 4); depth_maps (B, J, H, W) H^z; uv (B, J, 2) px of the input image (eq. 4);
            z_rel (B, J) scale-normalised relative depth (eq. 5); conf (B, J) phi = H^2D at uv;
            with K also points (B, J, 3) scale-normalised 3D (eqs. 1-3), z_root (B,), valid (B,) bool.
        """
        feats = self.backbone(self.normalise(images))[0]
        feats = self.shared(feats)
        heatmaps = self.heat(feats).float()
        if self.free_2d_grad_scale != 1.0 and self.detach_2d_3d and self.any_free_2d:
            # ours: the free joints' heatmaps (trained by the weak losses alone) reach the shared features with their
            # gradient scaled (0: only the 1x1 heatmap layer learns them); the same values forward
            free_maps = self.heat(_scale_grad(feats, self.free_2d_grad_scale)).float()
            heatmaps = torch.where(self.free_2d[None, :, None, None], free_maps, heatmaps)
        # ``depth_grad_scale`` (ours, 1 = the paper): the gradient of everything the depth maps feed (L_z, L_MC, L_B)
        # reaches the shared features scaled by it; 0 trains the latent-depth layer alone on frozen 2D features
        depth_maps = self.depth(feats if self.depth_grad_scale == 1.0 else
                                _scale_grad(feats, self.depth_grad_scale)).float()
        uv, probs = geometry.soft_argmax(heatmaps, self.stride, self.temperature)
        out = {
            "heatmaps": heatmaps, "probs": probs, "depth_maps": depth_maps, "uv": uv,
            "z_rel": geometry.relative_depth(probs, depth_maps),
            "conf": geometry.heatmap_confidence(heatmaps.detach(), uv.detach(), self.stride),
        }
        if K is not None:
            # ``detach_2d_3d`` (ours, off = the paper): the 3D path (eqs. 1-3, hence L_MC and L_B) sees the 2D
            # detached, i.e. uv and the eq. 5 softmax weights, so the weak losses train the depth maps only;
            # except the ``free_2d_joints`` (joints no 2D source labels), whose 2D only the weak losses can train.
            if self.detach_2d_3d:
                f = self.free_2d
                uv3 = torch.where(f[:, None], uv, uv.detach())
                z3 = geometry.relative_depth(torch.where(f[:, None, None], probs, probs.detach()), depth_maps)
            else:
                uv3, z3 = uv, out["z_rel"]
            rec = self.reconstruct(uv3, z3, K.float())
            out["points"], out["z_root"], out["valid"] = rec[:3]
            if self.invalid_views == "hinge":  # ours: invalid views stay in the loss with a validity penalty
                out["validity"] = rec[3]
        return out

    def reconstruct(self, uv: torch.Tensor, z_rel: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """`geometry.reconstruct` (eqs. 1-3) with this model's settings (invalid views, root depth): what forward
        runs, and what the trainer's oracle-2D diagnostic calls with the ground-truth 2D."""
        bones = dict(root_depth="bones", mean_bone=self.mean_bone) if self.root_depth == "bones" else {}
        if self.invalid_views == "hinge":
            return geometry.reconstruct(uv, z_rel, K, invalid="hinge", hinge_margin=self.hinge_margin, **bones)
        return geometry.reconstruct(uv, z_rel, K, **bones)

    def load_2d_state(self, state: dict) -> None:
        """Load a 2D model's weights (a shared 2D model, `Run._init_from_2d`): every key must match, except that
        this model keeps its own eq. 11 mean bones (a 2D model, always root_depth="neck", has none)."""
        own = {"mean_bone": self.mean_bone} if self.root_depth == "bones" else {}
        self.load_state_dict({**{k: v for k, v in state.items() if k != "mean_bone"}, **own})

    @classmethod
    def from_config(cls, cfg, mean_bone: torch.Tensor | None = None) -> "PoseNet":
        """The architecture a `TrainConfig` describes (every PoseNet argument that is a config field). With
        ``cfg.root_depth == "bones"`` it needs ``mean_bone`` (the run's scale-normalised eq. 11 means); rebuilt from
        a checkpoint, zeros stand in until `load_state_dict` restores the stored ones."""
        if cfg.root_depth == "bones" and mean_bone is None:
            mean_bone = torch.zeros(len(skeleton.BONES))
        return cls(cfg.backbone, stride=cfg.stride, temperature=cfg.temperature, head_channels=cfg.head_channels,
                   feature_stride=cfg.feature_stride, detach_2d_3d=cfg.detach_2d_3d,
                   invalid_views=cfg.invalid_views, hinge_margin=cfg.hinge_margin,
                   depth_grad_scale=cfg.depth_grad_scale, free_2d_joints=cfg.free_2d_joints,
                   free_2d_grad_scale=cfg.free_2d_grad_scale, root_depth=cfg.root_depth,
                   mean_bone=mean_bone if cfg.root_depth == "bones" else None)


def _scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """x in the forward pass; its gradient multiplied by ``scale`` in the backward pass."""
    return x.detach() if scale == 0.0 else x * scale + x.detach() * (1.0 - scale)


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
