"""`SimConfig`: the single, frozen description of an experiment.

Every field is validated on construction; a bad value raises `ConfigError`
naming the field, the value and what is allowed. The names, values and
defaults are a public contract shared by saved files, the CLI and the GUI.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping

ARCHITECTURES = ("mlp", "residual", "rnn", "lstm", "cnn", "residual_cnn", "transformer", "autoencoder", "user",
                 "user_autoencoder")
# a network the user's own Python file builds (core/architectures/user_model.py), named by the `model` field
USER_ARCHITECTURES = ("user", "user_autoencoder")
RECURRENT_ARCHITECTURES = ("rnn", "lstm")  # unrolled over `depth` time steps (core/architectures/recurrent.py)
# Skip connections are chosen by the architecture's name, never by a separate field:
# mlp/residual and cnn/residual_cnn; the transformer and the autoencoder always have them.
IMAGE_ARCHITECTURES = ("cnn", "residual_cnn")  # take [C, H, W] images (core/architectures/cnn.py)
ACTIVATION_NAMES = (
    "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu",
    "softplus", "linear", "shifted_relu",
)
INIT_NAMES = (
    "zeros", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "lecun_normal", "orthogonal",
)
INIT_MODES = ("fan_in", "fan_out")
NORMALIZATIONS = ("none", "batchnorm", "layernorm")
DATASET_NAMES = ("gaussian", "spirals", "circles", "xor", "moons", "digits", "first_token", "adding", "stripes",
                 "majority", "file")
DATA_FILE_SUFFIXES = (".csv", ".npz")  # dataset 'file' reads the user's own data (core/data_files.py)
# sequences of sequence_length(cfg) steps (core/data.py): `depth` steps, or `seq_len` for the transformer
SEQUENCE_DATASETS = ("first_token", "adding", "majority")
# 1×8×8 and 1×16×16 images for the CNNs, flat vectors for the others; a user's NPZ may hold (N, C, H, W)
# images (core/data_files.py checks the shape against the architecture)
IMAGE_DATASETS = ("digits", "stripes", "file")
NORM_POSITIONS = ("pre", "post")
OPTIMIZERS = ("sgd", "momentum", "adam", "radam", "rmsprop")
CLIP_MODES = ("none", "norm", "value")
DEVICES = ("auto", "cpu", "cuda")

MAX_DEPTH = 1000
MAX_WIDTH = 4096
MIN_SAMPLES, MAX_SAMPLES = 16, 100_000
MAX_INPUT_DIM = 4096
MAX_GRAD_ACCUM = 1024
MAX_WARMUP_STEPS = 1_000_000
# n_samples × depth cap for the sequence data sets, which are held in memory whole
# (4M steps of 8 features is 128 MB of float32).
MAX_SEQUENCE_STEPS = 4_000_000
# σ(±10) is within 5e-5 of 0 or 1: a gate pinned shut or open; larger values add nothing.
MAX_FORGET_BIAS = 10.0
# self-attention holds a [batch, heads, seq_len, seq_len] score tensor per block
MAX_SEQ_LEN = 512


class ConfigError(ValueError):
    """A configuration value is invalid. `field` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def _suggest(value: Any, allowed: Iterable[str]) -> str:
    """'; did you mean X? allowed: a, b, c' for an unknown name."""
    allowed = list(allowed)
    match = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.0)
    hint = f"; did you mean {match[0]!r}?" if match else ""
    return f"{hint} Allowed: {', '.join(allowed)}"


@dataclass(frozen=True)
class SimConfig:
    """One experiment: network, initialization, data, optimizer, clipping, device.

    Each update averages the gradients of `grad_accum` micro-batches of `batch_size`
    examples (effective batch batch_size × grad_accum ≤ n_samples).
    """

    architecture: str = "mlp"
    depth: int = 20
    width: int = 128
    activation: str = "tanh"
    leaky_slope: float = 0.01
    init: str = "xavier_normal"
    init_std: float = 0.01
    init_gain: float = 1.0
    init_mode: str = "fan_in"
    bias_std: float = 0.0
    forget_bias: float = 1.0
    normalization: str = "none"
    norm_position: str = "pre"
    heads: int = 4
    pool_every: int = 0
    dataset: str = "spirals"
    input_dim: int = 32
    seq_len: int = 16
    n_samples: int = 2048
    batch_size: int = 128
    grad_accum: int = 1
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_steps: int = 0
    clip_mode: str = "none"
    clip_threshold: float = 1.0
    seed: int = 0
    device: str = "auto"
    model: str = ""          # "path/to/file.py:factory" for architecture 'user' (kept, unused, by the others)
    data_file: str = ""      # a .csv or .npz file for dataset 'file' (kept, unused, by the others)
    label_column: str = ""   # the CSV's label column, by header name or 1-based number; '' = the last

    def __post_init__(self) -> None:
        validate(self)

    # --- conversions -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SimConfig":
        """Build from a mapping; unknown keys and wrong types raise ConfigError."""
        if not isinstance(data, Mapping):
            raise ConfigError("config", f"expected a JSON object of fields, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise ConfigError(str(key), "unknown field" + _suggest(key, names))
        return cls(**{k: _coerce(k, v) for k, v in data.items()})

    @classmethod
    def from_partial(cls, data: Mapping[str, Any], base: "SimConfig | None" = None) -> "SimConfig":
        """`base` (default: the defaults) with the fields given in `data` replaced: the one merge of a
        partial config (a file, a session entry, a scenario, stored settings) with the rest.
        Unknown keys and wrong types raise ConfigError as in from_dict."""
        if not isinstance(data, Mapping):
            raise ConfigError("config", f"expected a JSON object of fields, got {type(data).__name__}")
        return cls.from_dict({**(base if base is not None else cls()).to_dict(), **data})

    @classmethod
    def from_json(cls, text: str) -> "SimConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("config", f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except RecursionError:  # json's decoder recurses once per nesting level
            raise ConfigError("config", "nested too deeply to be a configuration") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> "SimConfig":
        """A copy with `changes` applied (validated, types coerced as in from_dict)."""
        return SimConfig.from_partial(changes, self)

    def with_overrides(self, assignments: Iterable[str]) -> "SimConfig":
        """Apply CLI-style ``key=value`` strings, parsing each value by the field's type."""
        changes: dict[str, Any] = {}
        for item in assignments:
            if "=" not in item:
                raise ConfigError("--set", f"expected key=value, got {item!r}")
            key, raw = item.split("=", 1)
            key = key.strip()
            changes[key] = _parse_text(key, raw.strip())
        return self.replace(**changes)


_FIELD_TYPES = {f.name: f.type for f in fields(SimConfig)}


def _parse_text(key: str, raw: str) -> Any:
    kind = _FIELD_TYPES.get(key)
    if kind is None:
        return raw  # from_dict reports the unknown key with a suggestion
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(key, f"expected {'an integer' if kind == 'int' else 'a number'}, got {raw!r}") from None
    return raw


def _coerce(key: str, value: Any) -> Any:
    kind = _FIELD_TYPES[key]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(key, f"expected an integer, got {value!r} ({type(value).__name__})")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"expected a number, got {value!r} ({type(value).__name__})")
        return float(value)
    elif kind == "str" and not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {value!r} ({type(value).__name__})")
    return value


def _choice(cfg: SimConfig, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(cfg, name)
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(name, f"unknown value {value!r}" + _suggest(value, allowed))


def _number(cfg: SimConfig, name: str, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> None:
    value = getattr(cfg, name)
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise ConfigError(name, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    if not integer and not math.isfinite(value):
        raise ConfigError(name, f"{value!r} is not a finite number")
    fmt = str if integer else (lambda v: f"{v:g}")
    left = "" if lo is None else (f"> {fmt(lo)}" if lo_open else f">= {fmt(lo)}")
    right = "" if hi is None else (f"< {fmt(hi)}" if hi_open else f"<= {fmt(hi)}")
    allowed = " and ".join(p for p in (left, right) if p)
    if lo is not None and hi is not None and not lo_open and not hi_open:
        allowed = f"{fmt(lo)}..{fmt(hi)}"
    too_low = lo is not None and (value <= lo if lo_open else value < lo)
    too_high = hi is not None and (value >= hi if hi_open else value > hi)
    if too_low or too_high:
        raise ConfigError(name, f"{value!r} is out of range; allowed {allowed}")


def validate(cfg: SimConfig) -> None:
    """Raise ConfigError for the first invalid field of `cfg`."""
    _choice(cfg, "architecture", ARCHITECTURES)
    _number(cfg, "depth", 1, MAX_DEPTH, integer=True)
    _number(cfg, "width", 1, MAX_WIDTH, integer=True)
    _choice(cfg, "activation", ACTIVATION_NAMES)
    _number(cfg, "leaky_slope", 0, 1)
    _choice(cfg, "init", INIT_NAMES)
    _number(cfg, "init_std", 0)
    _number(cfg, "init_gain", 0, lo_open=True)
    _choice(cfg, "init_mode", INIT_MODES)
    _number(cfg, "bias_std", 0)
    _number(cfg, "forget_bias", -MAX_FORGET_BIAS, MAX_FORGET_BIAS)
    _choice(cfg, "normalization", NORMALIZATIONS)
    _choice(cfg, "norm_position", NORM_POSITIONS)
    _number(cfg, "heads", 1, MAX_WIDTH, integer=True)
    _number(cfg, "pool_every", 0, MAX_DEPTH, integer=True)
    _choice(cfg, "dataset", DATASET_NAMES)
    _number(cfg, "input_dim", 1, MAX_INPUT_DIM, integer=True)
    _number(cfg, "seq_len", 1, MAX_SEQ_LEN, integer=True)
    _number(cfg, "n_samples", MIN_SAMPLES, MAX_SAMPLES, integer=True)
    _number(cfg, "batch_size", 1, cfg.n_samples, integer=True)
    _number(cfg, "grad_accum", 1, MAX_GRAD_ACCUM, integer=True)
    _choice(cfg, "optimizer", OPTIMIZERS)
    _number(cfg, "lr", 0, lo_open=True)
    _number(cfg, "momentum", 0, 1, hi_open=True)
    _number(cfg, "weight_decay", 0)
    _number(cfg, "warmup_steps", 0, MAX_WARMUP_STEPS, integer=True)
    _choice(cfg, "clip_mode", CLIP_MODES)
    _number(cfg, "clip_threshold", 0, lo_open=True)
    _number(cfg, "seed", 0, 2**63 - 1, integer=True)
    _choice(cfg, "device", DEVICES)
    _validate_files(cfg)
    if cfg.normalization == "batchnorm" and cfg.batch_size < 2:
        raise ConfigError("batch_size", "batchnorm needs batch statistics: allowed 2..n_samples "
                                        "with normalization 'batchnorm'")
    if cfg.batch_size * cfg.grad_accum > cfg.n_samples:
        # an effective batch larger than the data set would repeat examples within one update
        raise ConfigError("grad_accum", f"effective batch batch_size × grad_accum = {cfg.batch_size} × "
                                        f"{cfg.grad_accum} exceeds n_samples = {cfg.n_samples}; allowed "
                                        f"1..{max(1, cfg.n_samples // cfg.batch_size)} with batch_size {cfg.batch_size}")
    _validate_recurrent(cfg)
    _validate_new_architectures(cfg)


def unused_by_dataset(cfg: SimConfig, field_name: str) -> str | None:
    """Why `cfg`'s data set does not read `field_name` (as Architecture.why_unused does for the
    network), or None: only the gaussian data set is sized by input_dim."""
    if field_name == "input_dim" and cfg.dataset != "gaussian":
        return (f"The '{cfg.dataset}' data set has its own number of input features; "
                "input_dim sizes the gaussian data set only.")
    return None


def sequence_length(cfg: SimConfig) -> int:
    """Steps of a sequence data set: `seq_len` for the transformer (its `depth` counts blocks),
    `depth` for every other architecture (a recurrent net unrolls one step per layer)."""
    return cfg.seq_len if cfg.architecture == "transformer" else cfg.depth


def _validate_new_architectures(cfg: SimConfig) -> None:
    """The data each of cnn, residual_cnn and transformer takes, and the transformer's heads."""
    if cfg.architecture in IMAGE_ARCHITECTURES and cfg.dataset not in IMAGE_DATASETS:
        raise ConfigError("dataset", f"{cfg.dataset!r} is not an image data set; {cfg.architecture!r} allowed: "
                                     "'digits' (1×8×8), 'stripes' (1×16×16) or 'file' (an .npz of images)")
    if cfg.architecture == "transformer":
        if cfg.dataset not in SEQUENCE_DATASETS:
            raise ConfigError("dataset", f"{cfg.dataset!r} is not a token sequence; 'transformer' allowed: "
                                         + ", ".join(repr(d) for d in SEQUENCE_DATASETS))
        if cfg.width % cfg.heads:
            divisors = [h for h in range(1, cfg.width + 1) if cfg.width % h == 0]
            shown = ", ".join(map(str, divisors[:12])) + (", ..." if len(divisors) > 12 else "")
            raise ConfigError("heads", f"width {cfg.width} does not split into {cfg.heads} heads; allowed a "
                                       f"divisor of width: {shown}")


def _validate_recurrent(cfg: SimConfig) -> None:
    """Cross-field rules of the recurrent architectures and the sequence data sets."""
    if cfg.architecture in RECURRENT_ARCHITECTURES and cfg.normalization == "batchnorm":
        # batch statistics differ at every time step: one shared BatchNorm would mix them, and
        # per-step statistics (Cooijmans et al. 2017) cannot run on a sequence longer than in training
        raise ConfigError("normalization", f"'batchnorm' is not available for {cfg.architecture!r}; allowed "
                                           "'none' or 'layernorm' (normalizes each step per example)")
    steps, steps_field = sequence_length(cfg), "seq_len" if cfg.architecture == "transformer" else "depth"
    if cfg.dataset in SEQUENCE_DATASETS and cfg.n_samples * steps > MAX_SEQUENCE_STEPS:
        most = max(MIN_SAMPLES, MAX_SEQUENCE_STEPS // steps)
        raise ConfigError("n_samples", f"{cfg.n_samples} sequences of {steps} steps (= {steps_field}) exceed the "
                                       f"{MAX_SEQUENCE_STEPS:,} steps held in memory; allowed "
                                       f"{MIN_SAMPLES}..{most} at this {steps_field}")


def parse_model_ref(ref: str) -> tuple[str, str]:
    """('path/to/file.py', 'factory') from a `model` reference 'path/to/file.py:factory';
    ConfigError('model', ...) when it is not of that form. The path may itself hold colons
    (C:\\models\\net.py:make): the factory is after the last one."""
    path, sep, factory = ref.rpartition(":")
    if not sep or not path.lower().endswith(".py") or not factory.isidentifier():
        raise ConfigError("model", f"expected FILE.py:FACTORY (a Python file and the name of a function in it), "
                                   f"got {ref!r}")
    return path, factory


def _validate_files(cfg: SimConfig) -> None:
    """The user's own model and data: well-formed references, present when chosen. Whether the
    files exist and hold what they should is checked when they are read (they may change)."""
    for name in ("model", "data_file", "label_column"):
        if not isinstance(getattr(cfg, name), str):
            raise ConfigError(name, f"expected a string, got {getattr(cfg, name)!r}")
    if cfg.model:
        parse_model_ref(cfg.model)
    elif cfg.architecture in USER_ARCHITECTURES:
        raise ConfigError("model", f"architecture {cfg.architecture!r} needs a model file: "
                                   "model=FILE.py:FACTORY (File → Open model… in the window, "
                                   "--model on the command line)")
    if cfg.data_file and not cfg.data_file.lower().endswith(DATA_FILE_SUFFIXES):
        raise ConfigError("data_file", f"expected a .csv or .npz file, got {cfg.data_file!r}")
    if cfg.dataset == "file" and not cfg.data_file:
        raise ConfigError("data_file", "dataset 'file' needs a data file: data_file=FILE.csv or FILE.npz "
                                       "(File → Open data… in the window, --data on the command line)")
