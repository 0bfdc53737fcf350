"""Strict conversion of user input into a `weakpose.config.TrainConfig`: command-line ``KEY=VALUE`` overrides,
config dicts (a checkpoint's, a run's config.json) and ``--config`` files.

Every error is a ValueError that names the key (and the file) and says what was expected:

* booleans only from true/false, 1/0, yes/no (any case) on the command line, JSON true/false in a file;
* integers and floats parsed with the key named; floats must be finite;
* a ``--config`` file must hold every field of TrainConfig (a missing one is an error, never a silent default:
  a smoke config without ``iterations`` would otherwise run the paper's 60,000 steps), except the ``optional``
  ones a caller names (none, for `config.read_config_file`);
* sizes and cadences > 0 (`check_values`, called by ``TrainConfig.__post_init__``).

It knows nothing of TrainConfig itself (`weakpose.config` imports it and passes the class), so there is no cycle.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
# fields that must be >= 1 (sizes, cadences) and >= 0 (counts where 0 means "none" / "off" / "default")
POSITIVE_INT = ("iterations", "batch_2d", "batch_mv", "views", "input_size", "stride", "log_every", "ckpt_every",
                "eval_batch", "keep_checkpoints", "basin_test_batches")
NON_NEGATIVE_INT = ("pretrain_iterations", "lr_drop_step", "num_workers", "cpu_threads", "eval_max_samples",
                    "head_channels", "feature_stride", "seed")
POSITIVE_FLOAT = ("lr", "pretrain_lr", "temperature", "heatmap_sigma")


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def parse_bool(key: str, text: str) -> bool:
    t = text.strip().lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    raise ValueError(f"{key}={text!r}: expected a boolean (true/false, 1/0, yes/no)")


def parse_value(key: str, text: str, cls):
    """``text`` converted to the type of the default of ``cls``'s field ``key`` (ValueError naming the key
    otherwise)."""
    fields = _fields(cls)
    if key not in fields:
        raise ValueError(f"unknown config key {key!r}")
    d = fields[key].default
    if isinstance(d, bool):
        return parse_bool(key, text)
    if isinstance(d, int):
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"{key}={text!r}: expected an integer") from None
    if isinstance(d, float):
        try:
            v = float(text.strip())
        except ValueError:
            raise ValueError(f"{key}={text!r}: expected a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{key}={text!r}: expected a finite number")
        return v
    if isinstance(d, tuple):
        return tuple(x.strip() for x in text.split(",") if x.strip())
    return text


def parse_overrides(items: list[str], cls) -> dict:
    """Command-line ``KEY=VALUE`` overrides of dataclass ``cls`` (`weakpose.config.TrainConfig`), each converted to
    the type of that field's default (`parse_value`;
    tuples comma-separated). A missing ``=``, an unknown key or a value of the wrong type raises ValueError
    naming the key."""
    over = {}
    for kv in items:
        k, eq, v = kv.partition("=")
        k = k.strip()
        if not eq:
            raise ValueError(f"override {kv!r}: expected KEY=VALUE")
        over[k] = parse_value(k, v, cls)
    return over


def _coerce(key: str, value, default, where: str):
    """A config-dict value checked against the type of field ``key`` (ints may stand for floats; lists for tuples)."""
    def bad(expected: str):
        return ValueError(f"{where}: {key} must be {expected}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise bad("an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        if not math.isfinite(value):
            raise bad("a finite number")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
            raise bad("a list of strings")
        return tuple(value)
    if not isinstance(value, str):
        raise bad("a string")
    return value


def config_from_dict(d: dict, cls, source: str | os.PathLike | None = None, require_all: bool = False,
                     optional: tuple[str, ...] = ()):
    """A ``cls`` (`weakpose.config.TrainConfig`) from a dict of its fields (a checkpoint's or a config.json's).
    Unknown keys, values of the wrong type and values ``cls`` refuses raise ValueError naming ``source`` (a file)
    and the key; with ``require_all`` a missing field does too, except the ``optional`` ones (fields added after
    files were written), which take their defaults (without ``require_all`` every field may be absent)."""
    where = str(source) if source is not None else "config"
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected a JSON object of config fields, found a {type(d).__name__}")
    fields = _fields(cls)
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown config keys {unknown}")
    if require_all:
        later = set(optional)
        missing = [k for k in fields if k not in d and k not in later]
        defaulted = [k for k in fields if k not in d and k in later]
        if defaulted and not missing:
            print(f"[weakpose] note: {where} predates the fields {defaulted}: they take their defaults (what runs "
                  "computed before they existed)", flush=True)
        if missing:
            shown = ", ".join(f"{k} (default {fields[k].default!r})" for k in missing[:6])
            raise ValueError(f"{where}: missing config fields {missing}; a config file must give every field "
                             f"(it is never completed with the paper defaults): add {shown}"
                             + (", ..." if len(missing) > 6 else ""))
    kw = {k: _coerce(k, v, fields[k].default, where) for k, v in d.items()}
    try:
        return cls(**kw)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def read_config_file(path: str | os.PathLike, cls, optional: tuple[str, ...] = ()):
    """The ``cls`` of a ``--config`` file (a run's config.json): every field but the ``optional`` ones must be
    there. Raises
    FileNotFoundError or ValueError naming the file (missing, unreadable, truncated, not an object, a missing or
    ill-typed field)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found (expected a run's config.json)")
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"config file {path}: unreadable ({e})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"config file {path}: not valid JSON, truncated or damaged? ({e})") from None
    return config_from_dict(d, cls, source=path, require_all=True, optional=optional)


def check_values(cfg) -> None:
    """Raise ValueError naming the first field of ``cfg`` out of its range (sizes and cadences > 0, counts >= 0,
    rates and scales > 0, every float finite)."""
    for k in POSITIVE_INT:
        if getattr(cfg, k) < 1:
            raise ValueError(f"{k} must be >= 1, got {getattr(cfg, k)}")
    for k in NON_NEGATIVE_INT:
        if getattr(cfg, k) < 0:
            raise ValueError(f"{k} must be >= 0, got {getattr(cfg, k)}")
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{f.name} must be finite, got {v}")
    for k in POSITIVE_FLOAT:
        if not getattr(cfg, k) > 0:
            raise ValueError(f"{k} must be > 0, got {getattr(cfg, k)}")
