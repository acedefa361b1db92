"""The user's own model: a Python file whose factory builds a torch.nn.Module (architectures
'user' and 'user_autoencoder'; the config's `model` field is "path/to/file.py:factory").

Contract: ``factory(cfg: SimConfig) -> torch.nn.Module``. The module takes the data set's input
batch [B, …] and returns logits [B, n_classes] ('user'), or a batch shaped like its input,
trained with the mean squared error ('user_autoencoder'). The factory may read any config field
(depth, width, activation, …); it runs with torch's global generator seeded from the config's
seed (and restored afterwards), so one config builds the same initial weights every time.

Probe points ("layers") are found with no change to the user's code: every leaf module with a
`weight` parameter, normalization layers excepted (their weight is a per-channel scale), in the
order one forward pass calls them. An attribute ``vp_layers`` on the module (a list of its
submodules, or of their names as in ``named_modules()``) names them explicitly instead. For probe
point l, a module m_l called on h_l:
  z_l = m_l(h_l), the module's output: ∂L/∂z_l is measured there. In a traced pass the rest of
        the network reads a copy of z_l, so an in-place operation after the layer
        (ReLU(inplace=True)) changes the copy and z_l keeps the layer's output (an untraced pass
        makes no copy: the values are the same);
  u_l = z_l (no normalization is inserted between them);
  a_l = the input of the next probe point's module (what the user's nonlinearity, pooling or
        normalization made of z_l), and for the last one the network's output;
  h_l = the module's input, traced only when every probe point is an nn.Linear called once on
        [B, features] (then the per-example gradient identity of core.noise holds and the
        gradient-noise statistic is defined; otherwise it is NaN).
The saturated and dead fractions read the configured activation's φ′ at z_l, as if that
activation followed every probe point: true for a factory that applies cfg.activation after each
layer, as resources/examples/small_cnn.py does. A module called more than once per pass is probed
at its first call.

The file is imported into the running process with the user's permissions, as any Python import
would be: there is no sandbox. Every problem (a missing file, a syntax error, a missing factory,
an exception in it, a wrong return type, a forward that fails on the data's shape, a wrong output
shape, no weighted layer) raises `UserModelError`: one line naming the file, the line where it
applies, and the exception.
"""
from __future__ import annotations

import hashlib
import sys
import traceback
import types
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from ..activations import ACTIVATIONS
from ..config import ConfigError, SimConfig, parse_model_ref
from ..trace import Trace
from .base import TRAINING_FIELDS, Architecture
from .layers import OneWeightPerLayer

# The user's factory may read any field: none is disabled in the window.
USER_FIELDS = frozenset(SimConfig.__dataclass_fields__) | TRAINING_FIELDS
NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
CHECK_BATCH = 2  # examples of the forward that checks the model when it is built


class UserModelError(ConfigError):
    """The user's model file cannot be used; one line naming the file, the line and the exception."""

    def __init__(self, message: str):
        super().__init__("model", message)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _where(path: Path, exc: BaseException) -> str:
    """'FILE line N' for the innermost traceback frame in the user's file, else 'FILE'."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return f"{path} line {line}" if line is not None else str(path)


# --- loading the file --------------------------------------------------------------------------
_MODULES: dict[tuple, types.ModuleType] = {}


def model_path(ref: str) -> Path:
    """The file of a `model` reference, resolved (ConfigError for a malformed reference)."""
    return Path(parse_model_ref(ref)[0]).expanduser().resolve()


def load_factory(ref: str) -> Callable[[SimConfig], nn.Module]:
    """The factory named by `ref` ("file.py:factory"), the file executed once per version of it
    (by size and modification time). UserModelError for a missing file, a syntax error, an
    exception while importing it, or no such function."""
    path, name = model_path(ref), parse_model_ref(ref)[1]
    if not path.is_file():
        raise UserModelError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    module = _MODULES.get(key)
    if module is None:
        module = _MODULES[key] = _execute(path)
    factory = getattr(module, name, None)
    if not callable(factory):
        defined = sorted(k for k, v in vars(module).items()
                         if callable(v) and not k.startswith("_") and getattr(v, "__module__", None) == module.__name__)
        hint = f"; it defines: {', '.join(defined)}" if defined else "; it defines no function"
        raise UserModelError(f"{path}: no function {name!r}{hint}")
    return factory


def _execute(path: Path) -> types.ModuleType:
    source = path.read_bytes()
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise UserModelError(f"{path} line {exc.lineno}: {type(exc).__name__}: {exc.msg}") from None
    except ValueError as exc:  # e.g. a null byte
        raise UserModelError(f"{path}: {_one_line(exc)}") from None
    # a module in sys.modules under a name of its own, so dataclasses, pickling and deepcopy find it
    name = f"vp_user_model_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - the user's own file, run as an import would be
    except BaseException as exc:  # noqa: BLE001 - SystemExit or KeyboardInterrupt in a module body too
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise UserModelError(f"{_where(path, exc)}: {_one_line(exc)} (while importing the file)") from None
    return module


# --- the instrumented network ------------------------------------------------------------------
def weighted_leaves(module: nn.Module) -> list[nn.Module]:
    """Leaf modules holding a `weight` parameter, normalization layers excepted (definition order)."""
    return [m for m in module.modules()
            if not any(True for _ in m.children()) and isinstance(getattr(m, "weight", None), nn.Parameter)
            and not isinstance(m, NORM_TYPES)]


def _named_layers(module: nn.Module, path: Path) -> list[nn.Module] | None:
    """The modules `vp_layers` names, or None when it is absent."""
    names = getattr(module, "vp_layers", None)
    if names is None:
        return None
    layers = []
    for item in names:
        try:
            layer = module.get_submodule(item) if isinstance(item, str) else item
        except AttributeError:
            raise UserModelError(f"{path}: vp_layers names {item!r}, which is not a submodule") from None
        if not isinstance(layer, nn.Module) or not isinstance(getattr(layer, "weight", None), nn.Parameter):
            raise UserModelError(f"{path}: vp_layers entry {item!r} is not a module with a weight parameter")
        layers.append(layer)
    if not layers:
        raise UserModelError(f"{path}: vp_layers is empty; name at least one layer with a weight")
    return layers


class UserNetwork(OneWeightPerLayer, nn.Module):
    """The user's module with probe points at its weighted layers (see the module docstring)."""

    def __init__(self, module: nn.Module, cfg: SimConfig):
        super().__init__()
        self.module = module
        self.has_norm = False
        self.probe_modules: list[nn.Module] = []  # set by find_layers; a plain list (no second registration)
        self._act = ACTIVATIONS[cfg.activation]
        self._slope = cfg.leaky_slope

    def find_layers(self, x: Tensor, path: Path, explicit: list[nn.Module] | None) -> Tensor:
        """Run one forward on `x` and keep, as probe points, the candidate layers in the order they
        were called; returns the output."""
        candidates = explicit if explicit is not None else weighted_leaves(self.module)
        order: list[nn.Module] = []
        entered: list[str] = []  # the leaf modules entered, to say which one a failing forward was in
        handles = [m.register_forward_hook(lambda m, _i, _o: order.append(m) if m not in order else None)
                   for m in candidates]
        handles += [m.register_forward_pre_hook(lambda _m, _i, name=name: entered.append(name))
                    for name, m in self.module.named_modules() if name and not any(True for _ in m.children())]
        try:
            out = self.module(x)
        except Exception as exc:
            if entered:
                try:
                    exc.vp_module = f"{entered[-1]} ({type(self.module.get_submodule(entered[-1])).__name__})"
                except AttributeError:  # an exception type without a __dict__
                    pass
            raise
        finally:
            for h in handles:
                h.remove()
        if explicit is not None:
            missing = [i for i, m in enumerate(explicit) if m not in order]
            if missing:
                raise UserModelError(f"{path}: vp_layers entry {missing[0]} is never called by forward")
        self.probe_modules = order
        return out

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        if trace is None:
            return self.module(x)
        calls: dict[int, tuple[Tensor, Tensor]] = {}
        repeated = []

        def hook(i: int, _module: nn.Module, inputs: tuple, output: Tensor) -> Tensor | None:
            if i in calls:
                repeated.append(i)
                return None
            calls[i] = (inputs[0] if inputs else None, output)
            # the network goes on with a copy (a hook's return value replaces the output), so that
            # an in-place operation after the layer cannot change z, its statistics or its ∂L/∂z
            return output.clone() if isinstance(output, Tensor) else None

        handles = [m.register_forward_hook(lambda m, i_, o, k=k: hook(k, m, i_, o))
                   for k, m in enumerate(self.probe_modules)]
        try:
            out = self.module(x)
        finally:
            for h in handles:
                h.remove()
        if len(calls) != len(self.probe_modules):
            absent = next(k for k in range(len(self.probe_modules)) if k not in calls)
            raise RuntimeError(f"the model's forward did not call layer {absent + 1} this time "
                               "(the probe points must be called on every pass)")
        ins = [calls[k][0] for k in range(len(calls))]
        zs = [calls[k][1] for k in range(len(calls))]
        for z in zs:
            if z.requires_grad:
                trace.keep_grad(z)
        trace.z.extend(zs)
        trace.u.extend(zs)
        trace.a.extend([*ins[1:], out])
        linear_chain = not repeated and all(isinstance(m, nn.Linear) for m in self.probe_modules) and all(
            isinstance(h, Tensor) and h.dim() == 2 for h in ins)
        if linear_chain:  # per-example weight gradients have rank one: the noise statistic is exact
            trace.h.extend(ins)
        return out

    def hidden_weights(self) -> list[Tensor]:
        return [m.weight for m in self.probe_modules]

    def abs_derivative(self, trace: Trace) -> list[Tensor]:
        """|φ′(z_l)| of the configured activation at each probe point's output, one tensor per
        point (their shapes may differ)."""
        return [self._act.derivative(z.detach(), self._slope).abs_() for z in trace.z]


def build_user_model(cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int, generator: torch.Generator,
                     reconstruct: bool = False) -> UserNetwork:
    """The user's module from `cfg.model`, wrapped and checked by one forward on CHECK_BATCH zero
    examples of `input_shape`: output shape, and at least one weighted layer."""
    path, name = model_path(cfg.model), parse_model_ref(cfg.model)[1]
    factory = load_factory(cfg.model)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            module = factory(cfg)
        except Exception as exc:  # noqa: BLE001 - the user's code: any exception is theirs to see
            raise UserModelError(f"{_where(path, exc)} (in {name}): {_one_line(exc)}") from None
    if not isinstance(module, nn.Module):
        raise UserModelError(f"{path}: {name}(cfg) returned {type(module).__name__}, expected a torch.nn.Module")
    module = module.float()
    net = UserNetwork(module, cfg)
    explicit = _named_layers(module, path)
    x = torch.zeros((CHECK_BATCH, *input_shape))
    was_training = module.training
    module.eval()  # no batch-norm statistics updated by the check
    try:
        with torch.no_grad():
            out = net.find_layers(x, path, explicit)
    except UserModelError:
        raise
    except Exception as exc:  # noqa: BLE001
        shape = "×".join(map(str, (CHECK_BATCH, *input_shape)))
        inside = f" in module {exc.vp_module}" if hasattr(exc, "vp_module") else ""
        raise UserModelError(f"{_where(path, exc)}: forward on a batch of shape {shape} (the data's) failed"
                             f"{inside}: {_one_line(exc)}") from None
    finally:
        module.train(was_training)
    want = (CHECK_BATCH, *input_shape) if reconstruct else (CHECK_BATCH, n_classes)
    if not isinstance(out, Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        what = "a reconstruction shaped like the input" if reconstruct else f"logits for the {n_classes} classes"
        raise UserModelError(f"{path}: forward returned {got} for a batch of shape {(CHECK_BATCH, *input_shape)}; "
                             f"expected {want} ({what})")
    if not net.probe_modules:
        raise UserModelError(f"{path}: the module {name}(cfg) returned has no layer with a weight that forward "
                             "calls (a leaf module with a `weight` parameter, such as nn.Linear or nn.Conv2d)")
    return net


def _build(cfg, input_shape, n_classes, generator) -> UserNetwork:
    return build_user_model(cfg, input_shape, n_classes, generator)


def _build_autoencoder(cfg, input_shape, n_classes, generator) -> UserNetwork:
    return build_user_model(cfg, input_shape, n_classes, generator, reconstruct=True)


USER = Architecture("user", "layer", USER_FIELDS, _build)
USER_AUTOENCODER = Architecture("user_autoencoder", "layer", USER_FIELDS, _build_autoencoder, reconstruct=True)
