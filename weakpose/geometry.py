"""The differentiable geometry of the 2.5D pose representation (Iqbal et al., Sec. 3.1-3.3, Appendix A).

Pure batched torch functions. Letters: B batch, C views, J joints, H W heatmap size. Units are named in every
docstring: "px" image pixels (pixel centres at integer coordinates), "mm", or "scale-normalised" (divided by the
neck-pelvis distance s of eq. 1).

Sign convention of the relative depth: eq. 2 reconstructs p_j = (z_root + z^r_j) K^-1 [u_j, v_j, 1]^T, so the
quantity the network predicts is ``z^r_j = (z_j - z_root) / s`` (positive = farther from the camera than the
pelvis). The prose of Sec. 3.1 writes z_root - z_j; eq. 2 is the operative definition and is what we implement.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from weakpose import skeleton


def pixel_grid(height: int, width: int, stride: int, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Input-image pixel coordinates of the heatmap cell centres (the grid U of eq. 4).

    Cell (r, c) of a stride-s heatmap covers input pixels [s c, s c + s - 1], so its centre is at
    x = s c + (s - 1) / 2 (and likewise y). Returns xs (W,), ys (H,) in px.
    """
    off = (stride - 1) / 2.0
    xs = torch.arange(width, device=device, dtype=dtype) * stride + off
    ys = torch.arange(height, device=device, dtype=dtype) * stride + off
    return xs, ys


def soft_argmax(heatmaps: torch.Tensor, stride: int = 4, temperature: float = 50.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatial softmax and soft-argmax of eq. 4.

    Args:
        heatmaps: (B, J, H, W) raw 2D heatmaps H^2D.
        stride: effective stride of the network (input px per heatmap cell).
        temperature: lambda; the normalised heatmap is softmax(lambda * H) over the H x W cells.
    Returns:
        uv: (B, J, 2) expected (u, v) in input-image px.
        probs: (B, J, H, W) normalised heatmaps H-bar^2D (sum to 1 per joint).
    """
    b, j, h, w = heatmaps.shape
    probs = torch.softmax(temperature * heatmaps.reshape(b, j, h * w), dim=-1).reshape(b, j, h, w)
    xs, ys = pixel_grid(h, w, stride, heatmaps.device, probs.dtype)
    u = (probs.sum(dim=2) * xs).sum(dim=-1)
    v = (probs.sum(dim=3) * ys).sum(dim=-1)
    return torch.stack([u, v], dim=-1), probs


def relative_depth(probs: torch.Tensor, depth_maps: torch.Tensor) -> torch.Tensor:
    """Eq. 5: z^r_j = sum_{u,v} H-bar^2D_j * H^z_j.

    probs: (B, J, H, W) normalised heatmaps; depth_maps: (B, J, H, W) latent depth maps.
    Returns (B, J) scale-normalised relative depth.
    """
    return (probs * depth_maps).sum(dim=(-2, -1))


def heatmap_confidence(heatmaps: torch.Tensor, uv: torch.Tensor, stride: int = 4) -> torch.Tensor:
    """phi_j of eq. 8: the raw heatmap value H^2D_j at the predicted (u_j, v_j), bilinearly sampled.

    heatmaps: (B, J, H, W); uv: (B, J, 2) px. Returns (B, J), clamped to [0, 1].
    """
    b, j, h, w = heatmaps.shape
    off = (stride - 1) / 2.0
    # px -> cell index -> [-1, 1] with align_corners=True (cell centres at -1 and 1).
    gx = (uv[..., 0] - off) / stride / max(w - 1, 1) * 2 - 1
    gy = (uv[..., 1] - off) / stride / max(h - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], dim=-1).reshape(b * j, 1, 1, 2).to(heatmaps.dtype)
    val = F.grid_sample(heatmaps.reshape(b * j, 1, h, w), grid, mode="bilinear", align_corners=True)
    return val.reshape(b, j).clamp(0.0, 1.0)


def reconstruct(uv: torch.Tensor, z_rel: torch.Tensor, K: torch.Tensor, root: int = skeleton.PELVIS,
                neck: int = skeleton.NECK, eps: float = 1e-8, root_depth: str = "neck",
                mean_bone: torch.Tensor | None = None, invalid: str = "mask", bone_rescale: bool = True,
                bone_iters: int = 4, hinge_margin: float = 0.0):
    """Scale-normalised 3D pose from the 2.5D pose, eqs. 1-3, in closed form. Long because eq. 3 and its two
    measured variants (root depth from all bones, invalid views kept with a penalty) share the ray algebra.

    With the viewing rays r_j = K^-1 [u_j, v_j, 1]^T scaled to unit depth (r_j,z = 1, so this holds for any
    invertible K, including K' = A K of rotated / scaled crops), p_j = (Z + z^r_j) r_j (eq. 2) with Z = z_root / s.
    The constraint ||p_neck - p_root|| = 1 (eq. 3) with a = r_neck - r_root, b = z^r_neck r_neck - z^r_root r_root
    reads  (a.a) Z^2 + 2 (a.b) Z + (b.b - 1) = 0.
    We take the larger root  Z = (-(a.b) + sqrt((a.b)^2 - (a.a)(b.b - 1))) / (a.a).  Why: the person stands in front
    of the camera at a distance much larger than its neck-pelvis length, so Z >> 1 > |b|; then (b.b - 1) < 0, the
    two roots have opposite signs and only the larger one puts the person in front of the camera. (Iqbal et al.,
    ECCV'18, take the same root.)

    Args:
        uv: (B, J, 2) px; z_rel: (B, J) scale-normalised relative depth (z_j - z_root) / s;
        K: (B, 3, 3) px intrinsics of the image the uv live in.
    Returns:
        points: (B, J, 3) scale-normalised camera-frame pose P-hat = P / s.
        z_root: (B,) scale-normalised root depth Z.
        valid: (B,) bool; False where the discriminant was negative, the rays were degenerate (neck and root on
        one ray, or a ray parallel to the image plane), or Z <= 0. Outputs stay finite there.

    Options beyond the paper (the defaults are eq. 3 literally and give exactly the numbers above):
        root_depth: "neck" (default) = eq. 3, Z from the neck-pelvis bone alone. "bones" = Z fitted to ALL 16
            bones of eq. 11 with the scale-normalised means ``mean_bone`` (16,) (mu-hat^L, ordered as
            `skeleton.BONES`): see `bone_root_depth`. Its sensitivity to 2D noise on one joint is ~1/16 of eq. 3's.
            With ``bone_rescale`` (default True) the pose is then divided by its neck-pelvis length so that
            ||p_neck - p_root|| = 1 (eq. 3) still holds and z_root is returned in those units; with False the
            bone-fitted pose is returned as is (its scale is the one the mean bones give, ||p_neck - p_root|| ~ 1).
        invalid: "mask" (default): as above. "hinge": a view with no real root of eq. 3 (disc < 0) is placed at the
            depth that makes ||p_neck - p_root|| smallest, Z = -(a.b)/(a.a) (continuous with the valid branch at
            disc = 0, so the pose keeps a gradient), and a fourth output ``penalty`` (B,) = relu(-disc / (a.a))
            = relu(min_Z ||p_neck - p_root||^2 - 1) is returned: a dimensionless, differentiable measure of how far
            the view is from having a real root, which the loss adds (`losses.validity_penalty`) so that an invalid
            view is pulled back to validity instead of being silenced for good. ``hinge_margin`` m >= 0 makes it
            relu(m - disc / (a.a)), which also pushes views sitting on the disc = 0 boundary (a torso parallel to
            the image plane is exactly there) to its valid side. The penalty also holds relu(1 - Z): a person
            closer to the camera than one neck-pelvis length (Z <= 0 is invalid) is pulled back in front of it
            (measured on the ladder: without it the minimiser parked a view at Z ~ 0). With root_depth="bones"
            there is always a real root; the penalty is then relu(1 - Z) alone.
    Returns (points, z_root, valid), or (points, z_root, valid, penalty) when invalid="hinge".
    """
    if root_depth not in ("neck", "bones"):
        raise ValueError(f"root_depth must be 'neck' or 'bones', got {root_depth!r}")
    if invalid not in ("mask", "hinge"):
        raise ValueError(f"invalid must be 'mask' or 'hinge', got {invalid!r}")
    if root_depth == "bones" and mean_bone is None:
        raise ValueError("root_depth='bones' needs mean_bone, the (16,) scale-normalised mean bone lengths of eq. 11")
    ones = torch.ones_like(uv[..., :1])
    m = torch.cat([uv, ones], dim=-1)                                 # (B, J, 3)
    rays = torch.linalg.solve(K.unsqueeze(1), m.unsqueeze(-1)).squeeze(-1)  # K^-1 m, (B, J, 3)
    rz = rays[..., 2:3]
    ray_ok = (rz.abs() > eps).all(dim=(-2, -1))
    rz_safe = torch.where(rz.abs() > eps, rz, torch.full_like(rz, eps))
    rays = rays / rz_safe                                            # unit depth
    zr = z_rel - z_rel[..., root:root + 1]                          # root's relative depth is 0 by definition
    a = rays[:, neck] - rays[:, root]
    b = zr[:, neck, None] * rays[:, neck] - zr[:, root, None] * rays[:, root]
    aa = (a * a).sum(-1)
    ab = (a * b).sum(-1)
    bb = (b * b).sum(-1)
    disc = ab * ab - aa * (bb - 1.0)
    aa_ok = aa > eps
    disc_ok = disc > 0
    aa_safe = torch.where(aa_ok, aa, torch.full_like(aa, 1.0))
    if root_depth == "bones":
        return _reconstruct_bones(rays, zr, ray_ok, mean_bone, root, neck, invalid, bone_rescale, bone_iters)
    disc_safe = torch.where(disc_ok, disc, torch.ones_like(disc))
    z_root = (-ab + torch.sqrt(disc_safe)) / aa_safe
    if invalid == "hinge":
        z_root = torch.where(disc_ok, z_root, -ab / aa_safe)
    valid = ray_ok & aa_ok & disc_ok & (z_root > 0)
    points = (z_root[:, None, None] + zr[..., None]) * rays
    if invalid == "hinge":
        penalty = torch.relu(hinge_margin - disc / aa_safe) + torch.relu(1.0 - z_root)
        return points, z_root, valid, penalty
    return points, z_root, valid


def bone_root_depth(rays: torch.Tensor, zr: torch.Tensor, mean_bone: torch.Tensor, iters: int = 4,
                    weights: torch.Tensor | None = None) -> torch.Tensor:
    """Root depth Z fitted to all bones of eq. 11 (a measured alternative to the single-bone eq. 3; see
    docs/weak-supervision.md).

    With unit-depth rays r_j and p_j = (Z + z^r_j) r_j (eq. 2), bone e = (j, j') is Z a_e + b_e with
    a_e = r_j - r_j', b_e = z^r_j r_j - z^r_j' r_j'. We solve  min_Z sum_e w_e (||Z a_e + b_e|| - mu-hat_e)^2
    (the eq. 11 residuals as a function of Z alone). Start: its linearisation for Z >> |b_e|,
    ||Z a + b|| ~ Z |a| + a.b / |a|, which is linear least squares in Z:
        Z_0 = sum_e w_e |a_e| (mu_e - a_e.b_e / |a_e|) / sum_e w_e |a_e|^2,
    then ``iters`` Gauss-Newton steps (unrolled, so Z is differentiable in uv and z^r). Every bone contributes
    in proportion to its 2D length |a_e|, so 1 px of noise on one joint moves Z by ~1/16 of what it does in eq. 3.

    rays: (B, J, 3) unit-depth rays; zr: (B, J) root-relative scale-normalised depth; mean_bone: (16,)
    scale-normalised means; weights: (B, 16) or None. Returns Z (B,) (scale-normalised root depth).
    """
    child = [c for c, _ in skeleton.BONES]
    parent = [p for _, p in skeleton.BONES]
    a = rays[:, child] - rays[:, parent]                                    # (B, 16, 3)
    b = zr[:, child, None] * rays[:, child] - zr[:, parent, None] * rays[:, parent]
    mu = mean_bone.to(rays)
    w = torch.ones_like(a[..., 0]) if weights is None else weights.to(rays)
    an = (a * a).sum(-1).clamp_min(1e-24).sqrt()                            # |a_e|
    Z = (w * an * (mu - (a * b).sum(-1) / an)).sum(-1) / (w * an * an).sum(-1).clamp_min(1e-24)
    for _ in range(iters):
        v = Z[:, None, None] * a + b
        ln = (v * v).sum(-1).clamp_min(1e-24).sqrt()
        r = ln - mu
        Jz = (a * v).sum(-1) / ln
        Z = Z - (w * r * Jz).sum(-1) / (w * Jz * Jz).sum(-1).clamp_min(1e-24)
    return Z


def _reconstruct_bones(rays, zr, ray_ok, mean_bone, root, neck, invalid, rescale, iters):
    """The root_depth="bones" branch of `reconstruct` (same outputs)."""
    Z = bone_root_depth(rays, zr, mean_bone, iters)
    points = (Z[:, None, None] + zr[..., None]) * rays
    z_root = Z
    if rescale:
        s = (points[:, neck] - points[:, root]).norm(dim=-1)
        s_ok = s > 1e-6
        s_safe = torch.where(s_ok, s, torch.ones_like(s))
        points = points / s_safe[:, None, None]
        z_root = Z / s_safe
        ray_ok = ray_ok & s_ok
    valid = ray_ok & (z_root > 0) & torch.isfinite(z_root)   # the neck-pelvis rays matter only for the rescale
    if invalid == "hinge":
        return points, z_root, valid, torch.relu(1.0 - z_root)
    return points, z_root, valid


def _procrustes(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None, with_scale: bool):
    """Shared weighted Kabsch/Umeyama solve in float32 (or float64 if given), outside autocast."""
    out_dtype = source.dtype
    dtype = torch.float64 if out_dtype == torch.float64 else torch.float32
    dev_type = source.device.type
    with torch.autocast(device_type=dev_type, enabled=False):
        x, y = source.to(dtype), target.to(dtype)
        w = torch.ones(x.shape[:-1], dtype=dtype, device=x.device) if weights is None else weights.to(dtype)
        wsum = w.sum(-1, keepdim=True).clamp_min(1e-12)                       # (..., 1)
        mu_x = (w[..., None] * x).sum(-2) / wsum                              # (..., 3)
        mu_y = (w[..., None] * y).sum(-2) / wsum
        xc, yc = x - mu_x[..., None, :], y - mu_y[..., None, :]
        cov = torch.einsum("...n,...ni,...nj->...ij", w, xc, yc)              # H = sum w x y^T, (..., 3, 3)
        U, S, Vh = torch.linalg.svd(cov)
        d = torch.sign(torch.det(Vh.transpose(-1, -2) @ U.transpose(-1, -2)))
        d = torch.where(d == 0, torch.ones_like(d), d)
        D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1))
        R = Vh.transpose(-1, -2) @ D @ U.transpose(-1, -2)                      # det(R) = +1
        if with_scale:
            var = (w * (xc * xc).sum(-1)).sum(-1)
            scale = (S * torch.diagonal(D, dim1=-2, dim2=-1)).sum(-1) / var.clamp_min(1e-12)
        else:
            scale = torch.ones_like(d)
        t = mu_y - scale[..., None] * torch.einsum("...ij,...j->...i", R, mu_x)
    return scale.to(out_dtype), R.to(out_dtype), t.to(out_dtype)


def rigid_align(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None):
    """Eq. 10: weighted Procrustes, R, t = argmin sum_j w_j ||target_j - (R source_j + t)||^2 with det(R) = +1.

    The SVD runs in float32 (float64 if the inputs are float64) with autocast disabled, so it is safe under bf16
    autocast. Gradients flow through it; the multi-view loss detaches R (Sec. 3.3).

    Args:
        source, target: (..., J, 3), same units; weights: (..., J) >= 0 (phi_c phi_c' in eq. 10) or None.
    Returns:
        R: (..., 3, 3) proper rotation; t: (..., 3) in the input units.
    """
    _, R, t = _procrustes(source, target, weights, with_scale=False)
    return R, t


def similarity_align(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None):
    """Rotation + uniform scale + translation (Umeyama) aligning source onto target, reflections excluded.

    source, target: (..., J, 3); weights: (..., J) or None. Returns (scale (...,), R (..., 3, 3), t (..., 3)) with
    target ~ scale * R source + t. Used by P-MPJPE.
    """
    return _procrustes(source, target, weights, with_scale=True)


def apply_transform(points: torch.Tensor, R: torch.Tensor, t: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """points (..., J, 3) -> scale * R points + t, with R (..., 3, 3), t (..., 3), scale (...,)."""
    out = torch.einsum("...ij,...nj->...ni", R, points)
    if scale is not None:
        out = out * scale[..., None, None]
    return out + t[..., None, :]


def bone_vectors(points: torch.Tensor) -> torch.Tensor:
    """(..., J, 3) -> (..., 16, 3) child - parent for the bones E of eq. 11."""
    return points[..., list(skeleton.BONE_CHILD), :] - points[..., list(skeleton.BONE_PARENT), :]


def fit_scale(points: torch.Tensor, mean_bone: torch.Tensor) -> torch.Tensor:
    """Eq. 12 in closed form: s = argmin_s sum_e (s l_e - mu_e)^2 = sum_e l_e mu_e / sum_e l_e^2.

    points: (B, J, 3) scale-normalised pose; mean_bone: (16,) mean training bone lengths in mm, ordered as
    `skeleton.BONES`. Returns s (B,) in mm per scale-normalised unit, so that s * points is in mm.
    """
    lengths = bone_vectors(points).norm(dim=-1)
    mu = mean_bone.to(lengths)
    return (lengths * mu).sum(-1) / (lengths * lengths).sum(-1).clamp_min(1e-12)
