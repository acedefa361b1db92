"""Export a configuration as a standalone PyTorch training script (torch and NumPy only).

The script is assembled from this package's own source, not rewritten by hand:
the data set function, the initialization scheme, the network class, the batch
sampler and the optimizer factory are copied with `inspect.getsource`, together
with every function or class of ours they use (found from their bytecode), so
the script builds the same data, the same network with the same initial weights
and draws the same batches as `Simulator` on the CPU. Only the training loop is
written here; tests check that the script's losses match the simulator's.
"""
from __future__ import annotations

import inspect
import textwrap
import types
from pathlib import Path
from typing import Any

from torch import nn

from .activations import ACTIVATIONS
from .config import RECURRENT_ARCHITECTURES, SimConfig, parse_model_ref
from .data import DATASETS, DIGITS_FILE, BatchSampler
from .inits import INITS
from .architectures.mlp import Network, build_mlp
from .architectures.recurrent import RecurrentCell, init_recurrent
from .optim import OPTIMIZERS, effective_lr, make_optimizer, set_lr
from .trace import Trace

# The one registry lookup in the network class, replaced by the chosen activation's constructor.
_ACTIVATION_LOOKUP = "ACTIVATIONS[cfg.activation].make(cfg.leaky_slope)"
# Registries the copied code indexes by name; the script gets a one-entry dict for each.
_REGISTRIES = {"INITS": ("init", INITS), "DATASETS": ("dataset", DATASETS), "OPTIMIZERS": ("optimizer", OPTIMIZERS)}


def _code_names(code: types.CodeType) -> set[str]:
    """Global names used by `code` and the code objects nested in it (comprehensions, lambdas)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _names_used(obj: Any) -> set[str]:
    if inspect.isclass(obj):
        methods = [m.fget if isinstance(m, property) else m for m in vars(obj).values()]
        return set().union(*(_code_names(m.__code__) for m in methods if inspect.isfunction(m)))
    return _code_names(obj.__code__)


def _is_ours(obj: Any) -> bool:
    return (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", "").startswith("core.")


def _is_literal(value: Any) -> bool:
    """A module constant the script can hold as its repr (numbers, strings, tuples and dicts of them)."""
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    return False


def _collect(roots: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """`roots` and every function/class of this package they use, dependencies first, and the
    literal module constants (name -> value) they use."""
    ordered: list[Any] = []
    constants: dict[str, Any] = {}

    def visit(obj: Any) -> None:
        if obj in ordered:
            return
        if inspect.isclass(obj):  # (a base class of ours is defined before the class)
            for base in obj.__bases__:
                if _is_ours(base):
                    visit(base)
        namespace = vars(inspect.getmodule(obj))
        for name in sorted(_names_used(obj)):
            dep = namespace.get(name)
            if _is_ours(dep) and dep is not obj:
                visit(dep)
            elif name.isupper() and name not in _REGISTRIES and _is_literal(dep):
                constants[name] = dep
        ordered.append(obj)

    for root in roots:
        visit(root)
    return ordered, constants


def _activation_expression(cfg: SimConfig) -> tuple[str, list[Any]]:
    """Python for the activation module, and any class of ours it needs."""
    module = ACTIVATIONS[cfg.activation].make(cfg.leaky_slope)
    cls = type(module)
    if cls.__module__.startswith("torch.nn"):
        expr, extra = f"nn.{module!r}", []
    else:
        expr, extra = repr(module), [cls]
    rebuilt = eval(expr, {"nn": nn, **{c.__name__: c for c in extra}})  # noqa: S307 - our own repr
    if type(rebuilt) is not cls or repr(rebuilt) != repr(module) or vars(rebuilt) != vars(module):
        raise ValueError(f"activation {cfg.activation!r}: {expr} does not rebuild the same module")
    return expr, extra


def _source(obj: Any, cfg: SimConfig, activation: str) -> str:
    src = textwrap.dedent(inspect.getsource(obj))
    if _ACTIVATION_LOOKUP in src:
        src = src.replace(_ACTIVATION_LOOKUP, activation)
    return src


def _config_block(cfg: SimConfig) -> str:
    lines = [f"    {name}={value!r}," for name, value in cfg.to_dict().items() if name != "device"]
    return "cfg = SimpleNamespace(  # the script runs on the CPU\n" + "\n".join(lines) + "\n)\n"


RECURRENT_BUILDER = '''def build_network(cfg, input_shape: tuple, n_classes: int, generator: torch.Generator) -> RecurrentCell:
    return init_recurrent(RecurrentCell(cfg, input_shape[-1], n_classes), cfg, generator)
'''
MLP_BUILDER = '''def build_network(cfg, input_shape: tuple, n_classes: int, generator: torch.Generator) -> Network:
    return build_mlp(cfg, input_shape[-1], n_classes, generator)
'''


def _plugin_roots(cfg: SimConfig) -> tuple[list[Any], str, bool] | None:
    """The model's roots, the `build_network` glue and whether the loss is a reconstruction, for the
    cnn, residual_cnn, transformer and autoencoder plug-ins (None for the others)."""
    if cfg.architecture in ("cnn", "residual_cnn"):
        from .architectures.cnn import build_cnn
        return [build_cnn], "build_network = build_cnn\n", False
    if cfg.architecture == "transformer":
        from .architectures.transformer import build_transformer
        return [build_transformer], "build_network = build_transformer\n", False
    if cfg.architecture == "autoencoder":
        from .architectures.autoencoder import build_autoencoder
        return [Network, build_autoencoder], "build_network = build_autoencoder\n", True
    return None

USER_BUILDER = '''def build_network(cfg, input_dim: int, n_classes: int, generator: torch.Generator) -> nn.Module:
    """Your model: {factory}(cfg) from {path}, imported from your file (it runs with your permissions),
    built with torch's generator seeded from `generator` as Vanishing Point builds it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_model", {path!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module.{factory}(cfg).float()
'''

FILE_DATA = '''
# Your data file ({path}), read by Vanishing Point's own reader: the same checks, the same seeded
# subset and standardization. It is imported from Vanishing Point's folder:
sys.path.insert(0, {root!r})
from core.data import file  # noqa: E402
'''

TRAIN_LOOP = '''
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    parser.add_argument("--every", type=int, default=1, help="print the loss every K steps")
    args = parser.parse_args()

    # The order of the random draws matters: data, then weights, then batches, all from one generator.
    gen = torch.Generator().manual_seed(cfg.seed)
    data = DATASETS[cfg.dataset](cfg, gen)                       # x: [n, ...one example's shape], y: [n]
    model = build_network(cfg, tuple(data.x.shape[1:]), data.n_classes, gen)
    optimizer = make_optimizer(cfg, model.parameters())
    sampler = BatchSampler(len(data.y), cfg.batch_size * cfg.grad_accum, gen)
    model.train()
    for step in range(1, args.steps + 1):
        idx = sampler.next_indices()                              # the effective batch
        optimizer.zero_grad(set_to_none=True)
        loss, correct = 0.0, 0.0
        for micro in idx.view(cfg.grad_accum, -1):                # accumulate grad_accum micro-batches
            logits = model(data.x[micro])                         # [batch_size, n_classes]
            micro_loss = nn.functional.cross_entropy(logits, data.y[micro]) / cfg.grad_accum
            micro_loss.backward()
            loss += micro_loss.item()
            correct += (logits.argmax(1) == data.y[micro]).sum().item()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if cfg.clip_mode == "norm":
            # clip_grad_norm_'s rule with the total norm in float64 (float32 overflows for exploding nets)
            total = torch.stack([torch.linalg.vector_norm(g) for g in grads]).double().square().sum().sqrt().item()
            if cfg.clip_threshold / (total + 1e-6) < 1.0:
                torch._foreach_mul_(grads, cfg.clip_threshold / (total + 1e-6))
        elif cfg.clip_mode == "value":
            nn.utils.clip_grad_value_(model.parameters(), cfg.clip_threshold)
        set_lr(optimizer, effective_lr(cfg, step))                # linear warm-up
        optimizer.step()
        if step % args.every == 0 or step == 1:
            print(f"step {step} loss {loss:.9g} accuracy {correct / len(idx):.4f}", flush=True)
        if not math.isfinite(loss):
            sys.exit(f"step {step}: the loss is not finite; stopping")


if __name__ == "__main__":
    main()
'''

HEADER = '''"""{title}

Generated by Vanishing Point from its own source code: the same data set, network,
initialization, batches and optimizer as the simulator, in plain PyTorch (CPU).
Run: python {filename} [--steps N] [--every K]
Each printed loss is the loss of that step's batch before its update, as the
simulator reports it.
"""
from __future__ import annotations

import argparse
import gzip
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

'''


# The loop's loss for a reconstruction (autoencoder): the mean squared error against the input.
CLASSIFY_LINES = (
    "            micro_loss = nn.functional.cross_entropy(logits, data.y[micro]) / cfg.grad_accum\n",
    "            correct += (logits.argmax(1) == data.y[micro]).sum().item()\n",
)
RECONSTRUCT_LINES = (
    "            micro_loss = nn.functional.mse_loss(logits, data.x[micro]) / cfg.grad_accum  # reconstruction\n",
    "            correct = math.nan  # accuracy does not apply to a reconstruction\n",
)


def export_script(cfg: SimConfig, filename: str = "experiment.py") -> str:
    """The source of a standalone script that builds and trains `cfg`'s network."""
    activation, extra = _activation_expression(cfg)
    if cfg.architecture == "user_autoencoder":
        raise ValueError("the PyTorch script is exported for classifiers; 'user_autoencoder' trains with the "
                         "mean squared error, which the script's loop does not have")
    loop, plugin = TRAIN_LOOP, _plugin_roots(cfg)
    if plugin is not None:
        model_roots, builder, reconstruct = plugin
        if reconstruct:
            for old, new in zip(CLASSIFY_LINES, RECONSTRUCT_LINES):
                loop = loop.replace(old, new)
    elif cfg.architecture in RECURRENT_ARCHITECTURES:
        model_roots, builder = [RecurrentCell, init_recurrent], RECURRENT_BUILDER
    elif cfg.architecture == "user":
        path, factory = parse_model_ref(cfg.model)
        model_roots, builder = [], USER_BUILDER.format(path=path, factory=factory)
    else:
        model_roots, builder = [build_mlp], MLP_BUILDER
    data_roots = [] if cfg.dataset == "file" else [DATASETS[cfg.dataset]]
    roots: list[Any] = [*extra, *data_roots, INITS[cfg.init], Trace, *model_roots, BatchSampler,
                        OPTIMIZERS[cfg.optimizer], make_optimizer, effective_lr, set_lr]
    objects, constants = _collect(roots)
    title = (f"A {cfg.depth}-layer {cfg.architecture} ({cfg.activation}, {cfg.init} init, {cfg.normalization} "
             f"normalization) trained on {cfg.dataset} with {cfg.optimizer}.")
    parts = [HEADER.format(title=title, filename=filename), "# The experiment (a Vanishing Point SimConfig).\n",
             _config_block(cfg)]
    if cfg.dataset == "digits":
        parts.append(f"\n# The UCI handwritten digits as shipped with Vanishing Point (resources/data/).\n"
                     f"DIGITS_FILE = Path({str(DIGITS_FILE)!r})\n")
    if cfg.dataset == "file":
        parts.append(FILE_DATA.format(path=cfg.data_file, root=str(Path(__file__).resolve().parent.parent)))
    if constants:
        parts.append("\n" + "".join(f"{name} = {value!r}\n" for name, value in sorted(constants.items())))
    for obj in objects:
        parts.append("\n\n" + _source(obj, cfg, activation))
    parts.append("\n\n" + builder)
    for registry, (field_name, table) in _REGISTRIES.items():
        name = getattr(cfg, field_name)
        parts.append(f"\n\n{registry} = {{{name!r}: {table[name].__name__}}}\n")
    parts.append("\n" + loop)
    return "".join(parts)

