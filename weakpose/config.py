"""The one typed configuration of a training run, with the paper's defaults (Appendix A), two formulations and
four profiles.

A run is fully described by `TrainConfig`; `asdict(cfg)` goes into `config.json` and into every checkpoint, and
a model is rebuilt from its checkpoint's own config. Notebooks and the runner build it with `make_run_config`.

One mechanism keeps configurations canonical: the parameters of a loss term that is off (`TERM_FIELDS`) are set
back to their defaults when a `TrainConfig` is made, so two configurations that compute the same are equal, have
the same run id and write the same config.json (an FS row is the same run under both formulations).
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
    shared_2d: bool = False       # the main stage starts from the shared 2D model of this profile, data and seed
                                  # (`shared_2d_config`, trained once for every row, as the paper pre-trains once)
                                  # instead of this run's own pre-training
    warmup_2d_size: int = 0       # the shared 2D model first trains `warmup_2d_iterations` steps at this input size
    warmup_2d_iterations: int = 0  # (e.g. 64 px), then `pretrain_iterations` at `input_size` (0 = no warm-up)
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
    # --- the weak-loss path: the paper's values here; `FORMULATIONS["ours"]` sets them (`weak.py`) ---
    mc_distance: str = "euclidean"  # the per-joint distance of L_MC (eq. 8): "euclidean" | "l1" | "squared"
    detach_2d_3d: bool = False    # the 3D path (eqs. 1-3 -> L_MC, L_B) sees uv and eq. 5's weights detached
    free_unlabelled_2d: bool = False  # the joints no 2D source labels (2D=M: spine, neck/nose) keep their 2D in the
                                  # 3D path under detach_2d_3d (L_MC, L_B train them) and get no pseudo-labels
    invalid_views: str = "mask"   # eq. 3 without a real root: "mask" (the paper: out of L_MC, L_B, no gradient) |
                                  # "hinge" (kept, with a validity penalty that pulls them back)
    validity_weight: float = 0.0  # gamma of the validity penalty (with invalid_views="hinge")
    hinge_margin: float = 0.0     # margin of that penalty
    chirality_weight: float = 0.0  # weight of the anatomical handedness hinge on the multi-view poses
                                   # (`losses.chirality_loss`: the depth mirror eq. 10 cannot see; 0 = off)
    chirality_margin: float = 0.1  # its margin on the normalised triple product (in [-1, 1])
    chirality_terms: str = "nose"  # the handedness signals it hinges (`losses.handedness`): '+'-join of
                                   # "nose" (in front of the thorax), "knees" (bend backwards), "elbows"
    foreshortening_weight: float = 0.0  # weight of the foreshortening hinge (`losses.foreshortening_loss`; 0 = off)
    foreshortening_margin: float = 0.5  # its margin on the in-image share of the bone lengths (in [0, 1])
    foreshortening_bones: str = "all"   # the bones it measures: "all" 16 (no body seen end-on) | "torso" (the
                                        # neck-pelvis bone alone: a lean about the camera's horizontal axis)
    mirror_test_every: int = 0    # every this many main steps, negate the depth layer when the mean handedness vote
                                  # of the multi-view poses since the last test is below -margin (`weakpose.mirror`;
                                  # 0 = off)
    mirror_test_margin: float = 0.1  # that margin (the truth's mean elbow vote is +0.33; a near-flat pose's ~0)
    mirror_test_terms: str = "elbows"  # the handedness signals that vote ('+'-join of `CHIRALITY_KEYS`): ones the
                                       # chirality hinge does not train, so a mirrored body has not faked them
    basin_test_at: float = 0.0    # at this fraction of the main steps, train the next basin_test_steps as is and
                                  # with the depth sign flipped, keep the branch with the lower weak objective
                                  # (`weakpose.basin`; 0 = off)
    basin_test_steps: float = 0.125  # the length of each branch, as a fraction of the main steps
    basin_test_batches: int = 16  # the fixed multi-view batches that score the branches
    mv_grad_clip: float = 0.0     # clip the gradient norm of main-stage steps with multi-view losses to this many
                                  # times its running mean (`clipping.clip_to_running_norm`; 0 = off)
    aug_scale: float = 0.2        # +-20 %
    aug_rotation: float = 30.0    # +-30 deg
    # --- runtime ---
    seed: int = 0
    device: str = "auto"          # "auto" | "cpu" | "cuda"
    bf16: bool = True             # bf16 autocast on CUDA (the geometry of eqs. 1-3, eq. 10 and the losses in fp32)
    cpu_bf16: bool = False        # bf16 autocast on the CPU too (with bf16): pays only where the CPU has bf16 units
                                  # (avx512_bf16 / AMX; `python -m weakpose.bench --cpu` measures it)
    channels_last: bool = True
    compile: bool = False
    num_workers: int = 4
    log_every: int = 50
    ckpt_every: int = 1000
    keep_checkpoints: int = 3     # step-*.pt files kept besides last.pt (resume falls back to them); with data_root
                                  # the fields that may change on resume and are not part of the run id
                                  # (`RUNTIME_FIELDS`: where the data lives is not what a run computes)
    cpu_threads: int = 0          # torch threads on the CPU (0 = leave as is); results depend on it in the last bits,
                                  # which long runs amplify: pin it to reproduce a CPU run on another machine
    eval_batch: int = 64
    eval_max_samples: int = 0     # 0 = the whole test split
    profile: str = "paper"

    def __post_init__(self):
        config_parse.check_values(self)  # sizes and cadences > 0, counts >= 0, floats finite
        _check_keys("sup2d", self.sup2d, SUP2D_KEYS, allow_empty=False)
        _check_keys("chirality_terms", self.chirality_terms, CHIRALITY_KEYS, allow_empty=False)
        _check_keys("mirror_test_terms", self.mirror_test_terms, CHIRALITY_KEYS, allow_empty=False)
        _check_keys("mv", self.mv, MV_KEYS, allow_empty=True)
        if self.sup3d not in ("", "H"):
            raise ValueError(f"sup3d must be 'H' or '', got {self.sup3d!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.invalid_views not in ("mask", "hinge"):
            raise ValueError(f"invalid_views must be 'mask' or 'hinge', got {self.invalid_views!r}")
        if self.mc_distance not in ("euclidean", "l1", "squared"):
            raise ValueError(f"mc_distance must be 'euclidean', 'l1' or 'squared', got {self.mc_distance!r}")
        if self.validity_weight and self.invalid_views != "hinge":
            raise ValueError("validity_weight needs invalid_views='hinge' (masked views have no penalty to weigh)")
        if self.known_R and not self.mv:
            raise ValueError("known_R needs multi-view data (mv)")
        if self.eval_on not in ("H", "I"):
            raise ValueError(f"eval_on must be 'H' or 'I', got {self.eval_on!r}")
        if self.foreshortening_bones not in ("all", "torso"):
            raise ValueError(f"foreshortening_bones must be 'all' or 'torso', got {self.foreshortening_bones!r}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, got {self.keep_checkpoints}")
        if self.input_size % self.stride:
            raise ValueError(f"input_size {self.input_size} must be a multiple of stride {self.stride}")
        if bool(self.warmup_2d_size) != bool(self.warmup_2d_iterations):
            raise ValueError("warmup_2d_size and warmup_2d_iterations go together (both > 0, or both 0)")
        if self.warmup_2d_size % self.stride:
            raise ValueError(f"warmup_2d_size {self.warmup_2d_size} must be a multiple of stride {self.stride}")
        # the one normalisation: the parameters of loss terms that are off go back to their defaults
        on = self.loss_terms()
        for name, term in TERM_FIELDS.items():
            if not on[term]:
                object.__setattr__(self, name, _DEFAULTS[name])
        if self.basin_test_at and not (0 < self.basin_test_steps and self.basin_test_at + self.basin_test_steps < 1):
            raise ValueError(f"basin_test_at + basin_test_steps ({self.basin_test_at} + {self.basin_test_steps}) must "
                             f"be a fraction of the main steps below 1, each > 0")

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
        mv = bool(self.mv)
        return {"heatmap": self.use_heatmap_loss, "depth": bool(self.sup3d), "mc": mv, "limb": mv,
                "validity": mv and self.validity_weight > 0, "chirality": mv and self.chirality_weight > 0,
                "foreshortening": mv and self.foreshortening_weight > 0}

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

    def run_id(self) -> str:
        """Readable id derived from the configuration plus a short hash of every field that differs from its default
        (the paper's value), `RUNTIME_FIELDS` aside: a new field, at its default, renames no existing run."""
        mv = self.mv.replace("+", "") or "none"
        name = f"{self.mode}_2d-{self.sup2d.replace('+', '')}_3d-{self.sup3d or 'none'}_mv-{mv}"
        if not self.use_heatmap_loss:
            name += "_noLH"
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in RUNTIME_FIELDS and v != _DEFAULTS[k]}
        digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:6]
        return f"{name}_{self.profile}_s{self.seed}_{digest}"


# The parameters of each loss term (keys of `TrainConfig.loss_terms`): while the term is off they change nothing a
# run computes, so `TrainConfig.__post_init__` sets them back to their defaults.
TERM_FIELDS: dict[str, str] = {
    "psi": "depth", "sup3d_subjects": "depth",
    "known_R": "mc", "alpha": "mc", "mc_distance": "mc", "detach_2d_3d": "mc", "free_unlabelled_2d": "mc",
    "invalid_views": "mc", "hinge_margin": "mc", "mv_grad_clip": "mc", "pseudo_labels": "mc", "pseudo_tau": "mc",
    "mirror_test_every": "mc", "mirror_test_terms": "mc", "mirror_test_margin": "mc",
    "basin_test_at": "mc", "basin_test_steps": "mc", "basin_test_batches": "mc",
    "beta": "limb", "validity_weight": "validity",
    "chirality_weight": "chirality", "chirality_margin": "chirality", "chirality_terms": "chirality",
    "foreshortening_weight": "foreshortening", "foreshortening_margin": "foreshortening",
    "foreshortening_bones": "foreshortening",
}
# Fields added after committed runs were written: a config.json without them means their defaults (which is what
# those runs computed: every one of them is a switch that is off by default).
LATER_FIELDS = ("mirror_test_every", "mirror_test_terms", "mirror_test_margin", "basin_test_at", "basin_test_steps",
                "basin_test_batches")
# Fields that never change what a run computes and may differ when it is resumed: not part of its run id.
RUNTIME_FIELDS = ("keep_checkpoints", "data_root")
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
    # CPU, resnet18 at 96 px on the small twins, both cores: every row starts from ONE shared 2D model per 2D
    # source and seed (1500 steps at 64 px, then 500 at 96 px), then 560 main steps. Timed from a fresh clone in
    # results/bench/cpu_profile_rows.md (`benchmarks/quickstart_time.py`); `python -m weakpose.bench --cpu` measures
    # the levers (bf16 autocast pays only on a CPU with bf16 units)
    "cpu": dict(backbone="resnet18", feature_stride=16, head_channels=64, input_size=96, data_size="small",
                iterations=560, lr_drop_step=450, pretrain_iterations=500, shared_2d=True, warmup_2d_size=64,
                warmup_2d_iterations=1500, cpu_threads=2, batch_2d=16, batch_mv=4, views=4, num_workers=0,
                log_every=25, ckpt_every=140, eval_batch=64, eval_max_samples=0),
    # one H100 / H200, minutes a row: the paper's network and input size (HRNet-w32, 256 px) on the small twins
    "gpu": dict(backbone="hrnet_w32", input_size=256, data_size="small", iterations=1000, lr_drop_step=800,
                pretrain_iterations=2000, shared_2d=True, batch_2d=64, batch_mv=16, views=4, num_workers=8,
                log_every=50, ckpt_every=500, eval_batch=128, eval_max_samples=0),
    # the paper's schedule (Appendix A)
    "paper": dict(),
}

# The two formulations every row can be run with: the paper's literal losses and weights (eqs. 7-11, Appendix A),
# and ours, which changes only what was measured to make the weak rows fail (docs/weak-supervision.md): the 3D path
# sees the labelled 2D detached, L_MC squared with L_B at 10, invalid views kept with a validity hinge, the
# handedness hinges (nose, knees) against the depth mirror, the torso hinge against the lean, the unlabelled
# joints' 2D left to the weak losses, and the gradient clipped against L_MC spikes.
FORMULATIONS: dict[str, dict] = {
    "paper": {},
    "ours": dict(detach_2d_3d=True, beta=10.0, mc_distance="squared", invalid_views="hinge", validity_weight=100.0,
                 hinge_margin=0.01, chirality_weight=10.0, free_unlabelled_2d=True, chirality_terms="nose+knees",
                 foreshortening_weight=10.0, foreshortening_bones="torso", foreshortening_margin=0.95,
                 mv_grad_clip=3.0),
}
_FORMULATION_FIELDS = tuple(sorted({k for p in FORMULATIONS.values() for k in p}))


def make_config(profile: str = "cpu", **overrides) -> TrainConfig:
    """A TrainConfig from a profile name and flat overrides (unknown keys raise)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}")
    return TrainConfig(**{**PROFILES[profile], **overrides, "profile": profile})


def shared_2d_config(cfg: TrainConfig) -> TrainConfig:
    """The shared 2D model a run with ``shared_2d`` starts from: L_H only on the run's 2D sources, for the
    profile's ``pretrain_iterations`` steps at ``pretrain_lr`` (Appendix A's 2D pre-training, done once for all
    rows), evaluated on H; every multi-view and 3D setting is off (and so at its default). With a warm-up
    (``warmup_2d_size``) it starts from `warmup_2d_config` of itself."""
    return dataclasses.replace(cfg, sup3d="", mv="", known_R=False, use_heatmap_loss=True, eval_on="H",
                               pretrain_2d=False, shared_2d=False, iterations=cfg.pretrain_iterations,
                               lr=cfg.pretrain_lr, lr_drop_step=cfg.pretrain_iterations)


def warmup_2d_config(shared: TrainConfig) -> TrainConfig:
    """The first stage of the shared 2D model ``shared`` (`shared_2d_config`): ``warmup_2d_iterations`` steps at
    ``warmup_2d_size`` px, from scratch. The network is fully convolutional, so the second stage continues from it
    at ``input_size``."""
    return dataclasses.replace(shared, input_size=shared.warmup_2d_size, iterations=shared.warmup_2d_iterations,
                               lr_drop_step=shared.warmup_2d_iterations, warmup_2d_size=0, warmup_2d_iterations=0)


def init_config(cfg: TrainConfig) -> TrainConfig | None:
    """The configuration of the model a run of ``cfg`` starts from: its shared 2D model (``shared_2d``), the
    warm-up stage of a shared 2D model with a warm-up, or None (it starts from scratch)."""
    if cfg.shared_2d:
        return shared_2d_config(cfg)
    if cfg.warmup_2d_iterations and not cfg.pretrain_2d:
        return warmup_2d_config(cfg)
    return None


def parse_overrides(items: list[str]) -> dict:
    """Command-line ``KEY=VALUE`` overrides, each converted to the type of that field's default (bool: only
    true/false, 1/0, yes/no; tuples: comma-separated). Unknown keys and bad values raise ValueError naming the key
    (`weakpose.config_parse`)."""
    return config_parse.parse_overrides(items, TrainConfig)


def config_from_dict(d: dict, source=None, require_all: bool = False) -> TrainConfig:
    """A TrainConfig from a dict of its fields; errors name ``source`` and the key (`weakpose.config_parse`)."""
    return config_parse.config_from_dict(d, TrainConfig, source, require_all, ())


def read_config_file(path) -> TrainConfig:
    """The TrainConfig of a ``--config`` file (e.g. a run's config.json): every field must be there (a missing one
    is an error naming it, never a silent default); errors name the file and the key."""
    return config_parse.read_config_file(path, TrainConfig, LATER_FIELDS)


# Flat row keys of the paper's tables and their values when a row does not name them.
ROW_DEFAULTS = dict(sup2d="M", sup3d="", sup3d_subjects="", mv="H", known_R=False, use_heatmap_loss=True, eval_on="H")


def make_run_config(profile: str = "cpu", source: str = "synthetic", data_root: str = "", device: str = "auto",
                    seed: int = 0, formulation: str = "ours", **row) -> TrainConfig:
    """The TrainConfig of one run from flat notebook parameters (``sup3d_subjects`` as "S1" or "S1,S5";
    ``formulation`` "paper" | "ours"): what the notebooks and the table runner both call, so a run lands
    where the runner expects it."""
    unknown = set(row) - set(ROW_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown row parameters {sorted(unknown)}; allowed: {sorted(ROW_DEFAULTS)}")
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {list(FORMULATIONS)}, got {formulation!r}")
    flat = {**ROW_DEFAULTS, **row, **FORMULATIONS[formulation]}
    flat["sup3d_subjects"] = tuple(s.strip() for s in str(flat["sup3d_subjects"]).split(",") if s.strip())
    return make_config(profile, source=source, data_root=str(data_root or ""), device=device, seed=int(seed), **flat)


def formulations_of(cfg: TrainConfig) -> tuple[str, ...]:
    """The `FORMULATIONS` ``cfg`` computes the same as: ("paper", "ours") for a run without multi-view losses (FS,
    2D-only: their settings are off under both), one of them for a weak run, () for a custom one."""
    base = {k: _DEFAULTS[k] for k in _FORMULATION_FIELDS}
    return tuple(f for f, preset in FORMULATIONS.items() if dataclasses.replace(cfg, **{**base, **preset}) == cfg)


def formulation_of(cfg: TrainConfig) -> str:
    """"ours" | "paper" | "both" (no weak term on: the same run under either) | "custom"."""
    names = formulations_of(cfg)
    return "both" if len(names) == 2 else names[0] if names else "custom"


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
    """Steps of this run's own 2D pre-training: none when it starts from the shared 2D model."""
    return cfg.pretrain_iterations if (cfg.pretrain_2d and not cfg.shared_2d) else 0
