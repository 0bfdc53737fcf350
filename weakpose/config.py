"""The one typed configuration of a training run, with the paper's defaults (Appendix A) and three profiles.

A run is fully described by `TrainConfig`; `asdict(cfg)` goes into `config.json` and into every checkpoint, and
a model is rebuilt from its checkpoint's own config. Notebooks build it from flat parameters with `make_config`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import torch

from weakpose import config_parse
from weakpose.skeleton import unlabelled_joints

SOURCES = ("synthetic", "real")
MV_KEYS = ("H", "I", "Q")
SUP2D_KEYS = ("H", "M")
CHIRALITY_KEYS = ("nose", "knees", "elbows")
# Fields left out of run_id()'s hash and of the resume check: they never change what a run computes, and were added
# after run ids existed, so hashing them would rename every existing results directory.
NOT_HASHED = ("keep_checkpoints", "cpu_threads")


@dataclass(frozen=True)
class TrainConfig:
    # --- supervision (Table 1 columns) ---
    sup2d: str = "H+M"            # "H+M" | "M": sources of 2D-labelled images
    sup3d: str = ""               # "H" | "": 3D supervision (L_z of eq. 6) from H
    sup3d_subjects: tuple[str, ...] = ()  # restrict L_z to these subjects (("S1",) = Table 2's semi-supervised)
    mv: str = "H"                 # "" | any '+'-join of H, I, Q: unlabelled multi-view sources for L_MC / L_B
    known_R: bool = False         # WS+R: rotations from the known extrinsics instead of eq. 10
    use_heatmap_loss: bool = True  # False only to show the degenerate solution Sec. 3.3 warns about
    pseudo_labels: bool = True    # Sec. 3.3 regularisation on H and I multi-view images
    pseudo_tau: float = 0.5
    pretrain_2d: bool = True      # Appendix A: 2D pre-training before the weak losses switch on
    init_2d: str = ""             # ours: a 2D-trained checkpoint (e.g. the 2D-only row) starting the main stage,
                                  # instead of this run's own pre-training: one shared 2D model for many rows
                                  # ("shared"; "shared:<profile>" = that profile's shared 2D model for this data)
    pretrain_from: str = ""       # ours: a profile whose shared 2D model this profile's shared 2D model fine-tunes
                                  # (at this input size) instead of training from scratch ("" = from scratch)
    # --- data ---
    source: str = "synthetic"     # "synthetic" | "real"
    data_root: str = ""           # "" = weakpose.data.format.data_root()
    data_size: str = "small"      # synthetic twin size: "tiny" | "small" | "paper"
    eval_on: str = "H"            # test split the metrics are computed on: "H" | "I"
    # --- model ---
    backbone: str = "hrnet_w32"
    head_channels: int = 0
    feature_stride: int = 0       # 0 = stride (HRNet's high-resolution branch); 16 for a ResNet, upsampled x4
    input_size: int = 256
    stride: int = 4
    temperature: float = 50.0     # lambda of eq. 4
    heatmap_sigma: float = 2.0    # Gaussian target std in heatmap cells
    detach_2d_3d: bool = False    # ours: the 3D path (eqs. 1-3 -> L_MC, L_B) sees uv and eq. 5's weights detached
    free_unlabelled_2d: bool = False  # ours: the joints no 2D source labels (2D=M: spine, neck/nose) keep their 2D
                                  # in the 3D path under detach_2d_3d (L_MC, L_B train them) and get no pseudo-labels
    free_2d_grad_scale: float = 1.0  # ours: scale of the weak losses' gradient from those free joints' heatmaps into
                                     # the shared features (0 = only the 1x1 heatmap layer learns them)
    root_depth: str = "neck"      # eqs. 1-3's root depth: "neck" (eq. 3, the neck-pelvis bone alone) | "bones"
                                  # (ours: fitted to all 16 bones with the eq. 11 means, `geometry.bone_root_depth`)
    oracle_2d_3d: bool = False    # diagnostic: the ground-truth 2D of the multi-view images in the 3D path (H, I)
    # --- optimisation (Appendix A) ---
    iterations: int = 60_000
    lr: float = 5e-4
    lr_drop_step: int = 50_000
    lr_drop_factor: float = 0.1
    pretrain_iterations: int = 20_000
    pretrain_lr: float = 5e-4
    batch_2d: int = 128
    batch_mv: int = 32
    views: int = 4
    psi: float = 5.0              # weight of L_z (eq. 6)
    alpha: float = 10.0           # weight of L_MC (eq. 7)
    beta: float = 100.0           # weight of L_B (eq. 7)
    mc_distance: str = "euclidean"  # the per-joint distance of L_MC (eq. 8): "euclidean" | "l1" | "squared" (ours)
    invalid_views: str = "mask"   # eq. 3 without a real root: "mask" (the paper: out of L_MC, L_B, no gradient) |
                                  # "hinge" (ours: kept, with a validity penalty that pulls them back)
    validity_weight: float = 0.0  # gamma of the validity penalty (with invalid_views="hinge"; the ladder used 100)
    hinge_margin: float = 0.0     # margin of that penalty (the ladder used 0.01)
    depth_grad_scale: float = 1.0  # ours: scale of the depth maps' gradient into the shared features (0 = none)
    chirality_weight: float = 0.0  # ours: weight of the anatomical handedness hinge on the multi-view poses
                                   # (`losses.chirality_loss`; breaks the depth mirror eq. 10 cannot see; 0 = off)
    chirality_margin: float = 0.1  # its margin on the normalised triple product (in [-1, 1])
    chirality_terms: str = "nose"  # the handedness signals it hinges (`losses.handedness`): "nose" (nose in front of
                                   # the thorax) | "nose+knees" (ours: + both knees bend backwards) | + "elbows"
    foreshortening_weight: float = 0.0  # ours: weight of the foreshortening hinge on the multi-view poses
                                        # (`losses.foreshortening_loss`: no body seen end-on; 0 = off)
    foreshortening_margin: float = 0.5  # its margin on the in-image share of the bone lengths (in [0, 1])
    foreshortening_bones: str = "all"   # the bones it measures: "all" 16 (the end-on collapse) | "torso" (ours: the
                                        # neck-pelvis bone alone, the lean of WS M/H seed 1: `losses.foreshortening`)
    mv_grad_clip: float = 0.0     # ours: in the main stage of rows with multi-view losses, clip the gradient norm to
                                  # this many times its running mean (`clipping.clip_to_running_norm`; 0 = off)
    aug_scale: float = 0.2        # +-20 %
    aug_rotation: float = 30.0    # +-30 deg
    # --- runtime ---
    seed: int = 0
    device: str = "auto"          # "auto" | "cpu" | "cuda"
    bf16: bool = True             # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True
    compile: bool = False
    num_workers: int = 4
    log_every: int = 50
    ckpt_every: int = 1000
    keep_checkpoints: int = 3     # step-*.pt files kept besides last.pt (resume falls back to them)
    cpu_threads: int = 0          # torch threads on the CPU (0 = leave as is); results depend on it in the last bits,
                                  # which long runs amplify: pin it to reproduce a CPU run on another machine
    eval_batch: int = 64
    eval_max_samples: int = 0     # 0 = the whole test split
    profile: str = "paper"

    def __post_init__(self):
        config_parse.check_values(self)  # sizes and cadences > 0, counts >= 0, floats finite
        _check_keys("sup2d", self.sup2d, SUP2D_KEYS, allow_empty=False)
        _check_keys("chirality_terms", self.chirality_terms, CHIRALITY_KEYS, allow_empty=False)
        _check_keys("mv", self.mv, MV_KEYS, allow_empty=True)
        if self.sup3d not in ("", "H"):
            raise ValueError(f"sup3d must be 'H' or '', got {self.sup3d!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.invalid_views not in ("mask", "hinge"):
            raise ValueError(f"invalid_views must be 'mask' or 'hinge', got {self.invalid_views!r}")
        if self.validity_weight and self.invalid_views != "hinge":
            raise ValueError("validity_weight needs invalid_views='hinge' (masked views have no penalty to weigh)")
        if self.oracle_2d_3d and not set(self.mv_keys) <= {"H", "I"}:
            raise ValueError(f"oracle_2d_3d needs ground-truth 2D on every multi-view source (H, I), got mv={self.mv!r}")
        if self.known_R and not self.mv:
            raise ValueError("known_R needs multi-view data (mv)")
        if self.eval_on not in ("H", "I"):
            raise ValueError(f"eval_on must be 'H' or 'I', got {self.eval_on!r}")
        if self.root_depth not in ("neck", "bones"):
            raise ValueError(f"root_depth must be 'neck' or 'bones', got {self.root_depth!r}")
        if self.foreshortening_bones not in ("all", "torso"):
            raise ValueError(f"foreshortening_bones must be 'all' or 'torso', got {self.foreshortening_bones!r}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, got {self.keep_checkpoints}")
        if self.input_size % self.stride:
            raise ValueError(f"input_size {self.input_size} must be a multiple of stride {self.stride}")

    # --- which loss terms are on: the only thing the mode decides ---
    @property
    def mode(self) -> str:
        if self.sup3d and self.mv:
            return "semi" if self.sup3d_subjects else "fs+mv"
        if self.sup3d:
            return "fs"
        if self.mv:
            return "ws+r" if self.known_R else "ws"
        return "2d"

    def loss_terms(self, stage: str = "main") -> dict[str, bool]:
        """The loss terms switched on in ``stage``: "pretrain" (Appendix A: L_H on the 2D-labelled images only) or
        "main" (what the mode decides). The one place where terms are switched; the trainer asks nothing else."""
        if stage == "pretrain":
            return {"heatmap": True, "depth": False, "mc": False, "limb": False, "validity": False, "chirality": False,
                    "foreshortening": False}
        if stage != "main":
            raise ValueError(f"stage must be 'pretrain' or 'main', got {stage!r}")
        return {"heatmap": self.use_heatmap_loss, "depth": bool(self.sup3d),
                "mc": bool(self.mv), "limb": bool(self.mv), "validity": bool(self.mv) and self.validity_weight > 0,
                "chirality": bool(self.mv) and self.chirality_weight > 0,
                "foreshortening": bool(self.mv) and self.foreshortening_weight > 0}

    @property
    def free_2d_joints(self) -> tuple[int, ...]:
        """Joints whose 2D the weak losses may move under ``detach_2d_3d`` and that get no pseudo-labels: with
        ``free_unlabelled_2d`` the joints none of the run's 2D sources labels (`skeleton.unlabelled_joints`)."""
        return unlabelled_joints(self.sup2d_keys) if self.free_unlabelled_2d else ()

    @property
    def mv_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.mv.split("+") if k)

    @property
    def sup2d_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.sup2d.split("+") if k)

    @property
    def chirality_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.chirality_terms.split("+") if k)

    def moot_fields(self) -> tuple[str, ...]:
        """The `TERM_FIELDS` of loss terms this run has off: they change nothing it computes, so its run id, its
        formulation and its table row ignore them."""
        on = self.loss_terms()
        return tuple(k for k, term in TERM_FIELDS.items() if not on[term])

    def run_id(self) -> str:
        """Readable id derived from the configuration (plus a short hash of everything else)."""
        mv = self.mv.replace("+", "") or "none"
        name = f"{self.mode}_2d-{self.sup2d.replace('+', '')}_3d-{self.sup3d or 'none'}_mv-{mv}"
        if not self.use_heatmap_loss:
            name += "_noLH"
        moot = self.moot_fields()
        fields = {k: v for k, v in dataclasses.asdict(self).items()
                  if k not in NOT_HASHED and not (k in LATER_FIELDS and v == _DEFAULTS[k]) and k not in moot}
        digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:6]
        return f"{name}_{self.profile}_s{self.seed}_{digest}"


# Fields added after the first results were committed: left out of the run id while they hold their default, so a
# new switch never renames the runs that do not use it (their results/ folders stay where they are).
LATER_FIELDS: tuple[str, ...] = ("init_2d", "detach_2d_3d", "mc_distance", "oracle_2d_3d", "invalid_views",
                                 "validity_weight", "hinge_margin", "depth_grad_scale", "chirality_weight",
                                 "chirality_margin", "free_unlabelled_2d", "pretrain_from", "chirality_terms",
                                 "mv_grad_clip", "foreshortening_weight", "foreshortening_margin",
                                 "free_2d_grad_scale", "root_depth", "foreshortening_bones")
# Fields that only parametrise one loss term: while that term is off (`loss_terms`) they change nothing a run
# computes, so they leave its run id and its formulation (`formulation_of`) alone: a new chirality signal does not
# rename, nor re-label, the rows without multi-view images (FS, 2D-only), which never use the prior.
TERM_FIELDS: dict[str, str] = {"chirality_margin": "chirality", "chirality_terms": "chirality", "mv_grad_clip": "mc",
                               "foreshortening_weight": "foreshortening", "foreshortening_margin": "foreshortening",
                               "foreshortening_bones": "foreshortening",
                               "free_2d_grad_scale": "mc"}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def _check_keys(name: str, value: str, allowed: tuple[str, ...], allow_empty: bool) -> None:
    keys = [k for k in value.split("+") if k]
    if (not keys and not allow_empty) or any(k not in allowed for k in keys) or len(set(keys)) != len(keys):
        raise ValueError(f"{name} must be a '+'-joined subset of {allowed}{' or empty' if allow_empty else ''}, "
                         f"got {value!r}")


PROFILES: dict[str, dict] = {
    # CPU, seconds: for tests
    "smoke": dict(backbone="resnet18", feature_stride=16, head_channels=32, input_size=64, data_size="tiny", iterations=6, lr_drop_step=4,
                  pretrain_iterations=3, batch_2d=4, batch_mv=2, views=4, num_workers=0, log_every=2,
                  ckpt_every=3, eval_batch=16, eval_max_samples=32, bf16=False, channels_last=False),
    # CPU minutes (about 4 on 2 cores once the twins exist) / GPU a few minutes
    "small": dict(backbone="resnet18", feature_stride=16, head_channels=64, input_size=64, data_size="small",
                  iterations=1000, lr_drop_step=800, pretrain_iterations=500, batch_2d=16, batch_mv=4, views=4,
                  num_workers=2, log_every=25, ckpt_every=250, eval_batch=64, eval_max_samples=0),
    # CPU, ~5 min a row on 2 cores: every row starts from ONE shared 2D model per 2D source (init_2d="shared",
    # trained once for `pretrain_iterations` steps, as the paper pre-trains once), then 1000 main steps
    "cpu": dict(backbone="resnet18", feature_stride=16, head_channels=64, input_size=64, data_size="small",
                iterations=1000, lr_drop_step=800, pretrain_iterations=4000, init_2d="shared", cpu_threads=1, batch_2d=16,
                batch_mv=4, views=4, num_workers=2, log_every=25, ckpt_every=250, eval_batch=64, eval_max_samples=0),
    # "cpu" at a 128 px input (the measured lever of issue 12: eq. 3's root depth is 4x less sensitive to 2D error
    # in input px): each shared 2D model is the cpu one fine-tuned 1000 steps at 128 px; ~25 min a row on one core
    "cpu128": dict(backbone="resnet18", feature_stride=16, head_channels=64, input_size=128, data_size="small",
                   iterations=1000, lr_drop_step=800, pretrain_iterations=1000, pretrain_from="cpu", init_2d="shared",
                   cpu_threads=1, batch_2d=16, batch_mv=4, views=4, num_workers=2, log_every=25, ckpt_every=250,
                   eval_batch=64, eval_max_samples=0),
    # the paper's schedule (Appendix A)
    "paper": dict(),
}

# The formulations every table row can be run with: the paper's literal losses and weights, and ours, which
# changes only what was measured to be the cause of the weak rows' failure (README "Weak supervision").
# "ours0" is the first fix (the committed cpu-profile rows of stop 16); "ours1" adds the two measured since: the
# chirality prior (the depth mirror eq. 10 cannot see) and the free unlabelled joints (2D=M's spine and neck/nose);
# "ours2" hinges the knees' bending direction too (a mirrored body kept the nose in front on 96 % of its images);
# "ours" adds the torso hinge (`foreshortening_bones="torso"`, margin 0.95: each view's torso tilting about its own
# camera's horizontal axis, the lean that eq. 10's Procrustes rotations cannot see; WS M/H seed 1 303.4 -> 116.6 mm).
# Not in it, measured worse at WS M/H seed 1 under ours2 (README "Weak supervision"): `mv_grad_clip` (the gradient
# spikes), the all-bones hinge at margin 0.5 (the end-on collapse that clipping ran into), `root_depth="bones"`,
# `depth_grad_scale=0.1`, the torso hinge at margin 0.85. On top of ours, `mv_grad_clip=3` is neutral on WS M/H and
# fixes the L_MC spikes of WS M/H+I+Q (431.9 -> 142.0 mm, seed 0): "ours_clip" = ours + `mv_grad_clip=3`, the one
# to use for new runs; its Table-1 rows cover every row and seed of ours (README "Weak supervision"), ours stays
# for the rows trained before it.
_OURS0 = dict(detach_2d_3d=True, beta=10.0, mc_distance="squared", invalid_views="hinge", validity_weight=100.0,
              hinge_margin=0.01)
FORMULATIONS: dict[str, dict] = {
    "paper": {},
    "ours0": _OURS0,
    "ours1": dict(_OURS0, chirality_weight=10.0, free_unlabelled_2d=True),
    "ours2": dict(_OURS0, chirality_weight=10.0, free_unlabelled_2d=True, chirality_terms="nose+knees"),
    "ours": dict(_OURS0, chirality_weight=10.0, free_unlabelled_2d=True, chirality_terms="nose+knees",
                 foreshortening_weight=10.0, foreshortening_bones="torso", foreshortening_margin=0.95),
}
FORMULATIONS["ours_clip"] = dict(FORMULATIONS["ours"], mv_grad_clip=3.0)

# Switches of ours that no formulation uses (measured, not adopted): a run with one on is "custom".
SWITCH_FIELDS = ("depth_grad_scale", "oracle_2d_3d", "free_2d_grad_scale",
                 "root_depth")

# Fields a shared 2D model does not depend on: reset to their defaults, so that every row with the same 2D data
# and profile shares one (`shared_2d_config`).
_ROW_FIELDS = ("sup3d", "sup3d_subjects", "mv", "known_R", "use_heatmap_loss", "pseudo_labels", "pseudo_tau", "psi",
               "alpha", "beta", "mc_distance", "detach_2d_3d", "oracle_2d_3d", "eval_on", "init_2d",
               "invalid_views", "validity_weight", "hinge_margin", "depth_grad_scale", "chirality_weight",
               "chirality_margin", "free_unlabelled_2d", "chirality_terms", "mv_grad_clip",
               "foreshortening_weight", "foreshortening_margin", "free_2d_grad_scale", "root_depth",
               "foreshortening_bones")


def make_config(profile: str = "small", **overrides) -> TrainConfig:
    """A TrainConfig from a profile name and flat overrides (unknown keys raise)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}")
    return TrainConfig(**{**PROFILES[profile], **overrides, "profile": profile})


def shared_2d_config(cfg: TrainConfig) -> TrainConfig:
    """The shared 2D model a run with ``init_2d="shared"`` starts from: L_H only on the run's 2D sources, for the
    profile's ``pretrain_iterations`` steps at ``pretrain_lr`` (Appendix A's 2D pre-training, done once for all
    rows); everything the rows differ in is at its default.
    With ``pretrain_from`` (a profile name) it is not trained from scratch but starts from that profile's shared 2D
    model of the same data (``init_2d="shared:<profile>"``): e.g. the 128 px profile fine-tunes the 64 px one."""
    d = _DEFAULTS
    out = dataclasses.replace(cfg, **{**{k: d[k] for k in _ROW_FIELDS}, "mv": ""}, pretrain_2d=False,
                              iterations=cfg.pretrain_iterations, lr=cfg.pretrain_lr,
                              lr_drop_step=cfg.pretrain_iterations)
    if cfg.pretrain_from:
        out = dataclasses.replace(out, init_2d=f"shared:{cfg.pretrain_from}", pretrain_from="")
    return out


def with_profile(cfg: TrainConfig, profile: str) -> TrainConfig:
    """``cfg`` with another profile's settings: every field some profile sets goes back to its default, then
    ``profile``'s values (its data, seed and row fields stay)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    keys = {k for p in PROFILES.values() for k in p}
    return dataclasses.replace(cfg, **{**{k: _DEFAULTS[k] for k in keys}, **PROFILES[profile], "profile": profile})


def parse_overrides(items: list[str]) -> dict:
    """Command-line ``KEY=VALUE`` overrides, each converted to the type of that field's default (bool: only
    true/false, 1/0, yes/no; tuples: comma-separated). Unknown keys and bad values raise ValueError naming the key
    (`weakpose.config_parse`)."""
    return config_parse.parse_overrides(items, TrainConfig)


def config_from_dict(d: dict, source=None, require_all: bool = False) -> TrainConfig:
    """A TrainConfig from a dict of its fields; errors name ``source`` and the key (`weakpose.config_parse`)."""
    return config_parse.config_from_dict(d, TrainConfig, source, require_all, LATER_FIELDS + NOT_HASHED)


def read_config_file(path) -> TrainConfig:
    """The TrainConfig of a ``--config`` file: every field there but `LATER_FIELDS` / `NOT_HASHED` (they take their
    defaults, what runs computed before they existed); errors name the file and the key."""
    return config_parse.read_config_file(path, TrainConfig, LATER_FIELDS + NOT_HASHED)


# Flat row keys of the paper's tables and their values when a row does not name them (= the TrainConfig defaults).
ROW_DEFAULTS = dict(sup2d="H+M", sup3d="", sup3d_subjects="", mv="H", known_R=False, use_heatmap_loss=True, eval_on="H")


def make_run_config(profile: str = "small", source: str = "synthetic", data_root: str = "", device: str = "auto",
                    seed: int = 0, formulation: str = "paper", **row) -> TrainConfig:
    """The TrainConfig of one run from flat notebook parameters (``sup3d_subjects`` as "S1" or "S1,S5";
    ``formulation`` one of `FORMULATIONS`): what the notebooks and the table runner both call, so a run lands
    where the runner expects it."""
    unknown = set(row) - set(ROW_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown row parameters {sorted(unknown)}; allowed: {sorted(ROW_DEFAULTS)}")
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {sorted(FORMULATIONS)}, got {formulation!r}")
    flat = {**ROW_DEFAULTS, **row, **FORMULATIONS[formulation]}
    flat["sup3d_subjects"] = tuple(s.strip() for s in str(flat["sup3d_subjects"]).split(",") if s.strip())
    return make_config(profile, source=source, data_root=str(data_root or ""), device=device, seed=int(seed), **flat)


def formulations_of(cfg: TrainConfig) -> list[str]:
    """Every `FORMULATIONS` entry ``cfg`` computes the same as, most specific (longest preset) first. A field is
    left out of the comparison with a preset only when its loss term is off both in ``cfg`` and under that preset
    (`moot_fields`): an FS run matches every formulation, since none of their weak terms is on without multi-view
    images, while a weak run without the torso hinge does not match "ours", whose hinge would be on."""
    names = []
    for name, preset in sorted(FORMULATIONS.items(), key=lambda kv: -len(kv[1])):
        moot = set(cfg.moot_fields()) & set(dataclasses.replace(cfg, **preset).moot_fields())
        rest = {*(k for p in FORMULATIONS.values() for k in p), *SWITCH_FIELDS} - set(preset)
        if all(getattr(cfg, k) == v for k, v in preset.items() if k not in moot) and \
                all(getattr(cfg, k) == _DEFAULTS[k] for k in rest if k not in moot):
            names.append(name)
    return names


def formulation_of(cfg: TrainConfig) -> str:
    """The `FORMULATIONS` entry ``cfg`` is labelled with: "ours" (the adopted one) whenever it computes the same as
    ours, else the most specific entry it follows ("paper" | "ours0" .. "ours2" | "ours_clip"), else "custom"
    (`formulations_of`). So an FS or 2D-only run, the same computation under ours and ours_clip, stays "ours"."""
    names = formulations_of(cfg)
    return "ours" if "ours" in names else (names[0] if names else "custom")


def resolve_device(name: str | torch.device) -> torch.device:
    """"auto" -> cuda when available, else cpu; "cuda" without CUDA raises; a torch.device passes through."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but CUDA is not available")
    return torch.device(name)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of global step ``step`` (pre-training steps first, then the Appendix A drop)."""
    if step < pretrain_steps(cfg):
        return cfg.pretrain_lr
    main = step - pretrain_steps(cfg)
    return cfg.lr * (cfg.lr_drop_factor if main >= cfg.lr_drop_step else 1.0)


def pretrain_steps(cfg: TrainConfig) -> int:
    """Steps of this run's own 2D pre-training: none when it starts from a shared 2D model (``init_2d``)."""
    return cfg.pretrain_iterations if (cfg.pretrain_2d and not cfg.init_2d) else 0
