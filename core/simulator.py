"""`Simulator`: owns the model, optimizer, data and device; returns `Snapshot`s."""
from __future__ import annotations

import math
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn

from .activations import ACTIVATIONS, max_abs_derivative
from .architectures import get_architecture
from .config import ConfigError, SimConfig
from .data import DATASETS, BatchSampler, Dataset
from .memory import check_fits
from .noise import energy_from_rows, example_energy, noise_to_signal
from .optim import applied_update, effective_lr, make_optimizer, set_lr
from .runtime import tune_allocator
from .snapshot import LayerStats, Snapshot, frozen_array
from .spectrum import Spectrum, recurrent_spectrum, unavailable_reason
from .stats import (HIST_MAX_VALUES, SATURATION_MAX_VALUES, confirm_dead, derivative_counts, derivative_sizes,
                    finish_moments, finish_norms, first_rows, histograms_stacked, norms, norms_device, rows,
                    sampled_derivative_counts, sampled_derivative_counts_of, stacked_rows, to_host)
from .symmetry import UNIT_SPREAD_MAX_VALUES, spread_ratio, unit_spread_parts_stacked
from .trace import InstrumentedNetwork, Trace


def resolve_device(requested: str) -> tuple[torch.device, str]:
    """The torch device for 'auto' / 'cpu' / 'cuda', and a sentence saying why."""
    has_cuda = torch.cuda.is_available()
    if requested == "cpu":
        return torch.device("cpu"), "CPU (chosen in the configuration)"
    if has_cuda:
        return torch.device("cuda"), f"CUDA: {torch.cuda.get_device_name(0)}"
    why = "this PyTorch build has no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
    if requested == "cuda":
        raise ConfigError("device", f"'cuda' was requested but {why}; use 'auto' or 'cpu'")
    return torch.device("cpu"), f"CPU ({why})"


def cpu_fallback_reason(exc: ConfigError) -> str:
    """The device sentence of an engine built on the CPU because resolve_device refused 'cuda' with
    `exc`: 'CPU (fallback: <the refusal, without its field name and its advice after the ";">)'."""
    refusal = str(exc).removeprefix(f"{exc.field}: ")
    return f"CPU (fallback: {refusal.split(';')[0]})"


TRAIL_MAX = 4096  # records kept by one step(n) call (the window's chunks are at most this long)


@dataclass(frozen=True, eq=False)
class StepRecord:
    """The cheap statistics of one training step without a snapshot (see Simulator.trail).

    `grad_norm` is ‖∂L/∂z‖ per probe point, as `LayerStats.grad_norm`; `update_to_weight`
    is ‖ΔW‖/‖W‖ per layer, as `LayerStats.update_to_weight` (for plain SGD without weight
    decay ‖ΔW‖ = lr·‖g‖ and for momentum lr·‖p‖, see Simulator._apply_update).
    """

    step: int
    loss: float
    accuracy: float
    clipped: bool
    grad_norm: np.ndarray
    update_to_weight: np.ndarray


@dataclass(frozen=True)
class StepTiming:
    """Seconds of the last step(n) call: per step without a snapshot (None if there was none),
    and of the final step with its full statistics."""

    cheap_step: float | None
    snapshot_step: float


class _Reducing(list):
    """A trace's list that hands each tensor appended to `reduce` at once (while it is in cache),
    and keeps it only if `keep`."""

    def __init__(self, reduce: Callable[[Tensor], None], keep: bool = True):
        super().__init__()
        self.reduce, self.keep = reduce, keep

    def append(self, t: Tensor) -> None:
        if self.keep:
            super().append(t)
        self.reduce(t)

    def extend(self, ts: Iterable[Tensor]) -> None:  # (a user's model appends all its points at once)
        for t in ts:
            self.append(t)


def _ignore(_: Tensor) -> None:
    pass


class _NormTrace(Trace):
    """What an instrumented forward appends to a Trace, reduced at once instead of kept: each
    probe point's Σz (a NaN/Inf in z makes it non-finite) while z is in cache, and, if `grads`,
    ‖∂L/∂z‖ by a hook when backward produces ∂L/∂z (in cache again). Results stay on the device."""

    def keep_grad(self, z: Tensor) -> None:
        """Nothing: z.grad is not kept (the hook of z.append takes ‖∂L/∂z‖; a second Python hook per
        layer would cost as much again)."""

    def __init__(self, grads: bool = True) -> None:
        self.sums: list[Tensor] = []
        self.grad_norms: list[Tensor | None] = []
        self.z = _Reducing(_norm_reducer(self.sums, self.grad_norms if grads else None), keep=False)
        self.u = self.a = self.h = _Reducing(_ignore, keep=False)

    def results(self) -> dict[str, Tensor]:
        """On the device, for to_host: 'z_sums' (Σz per probe point) and 'z_grads' (‖∂L/∂z‖ per probe
        point, 0 where none reached it; none without `grads`)."""
        if not self.sums:
            return {"z_sums": torch.zeros(0), "z_grads": torch.zeros(0)}
        if not self.grad_norms:  # (made without `grads`)
            return {"z_sums": torch.stack(self.sums), "z_grads": torch.zeros(0)}
        zero = torch.zeros((), dtype=self.sums[0].dtype, device=self.sums[0].device)
        return {"z_sums": torch.stack(self.sums),
                "z_grads": torch.stack([zero if g is None else g for g in self.grad_norms])}


class _HotTrace(Trace):
    """A Trace whose whole-layer reductions are taken the moment each tensor is produced, while it
    is in cache: Σz and ‖z‖ when the forward appends z, Σa and ‖a‖ per row when it appends a, and
    ‖∂L/∂z‖ per row by a hook when backward produces ∂L/∂z. The tensors are kept as by a Trace
    (the sampled statistics and the rare exact recomputations read them). Results stay on the device."""

    def keep_grad(self, z: Tensor) -> None:
        """Nothing here: the hook z.append registers keeps z.grad as trace.keep_grad would."""

    def __init__(self) -> None:
        super().__init__()
        # (the callbacks hold the result lists, never the trace: a trace → list → callback → trace
        # cycle would keep every layer alive until the garbage collector runs)
        self.z_sum: list[Tensor] = []
        self.z_norm: list[Tensor] = []
        self.a_sum: list[Tensor] = []
        self.a_rows: list[Tensor] = []                 # ‖a‖ per row, [B] float32
        self.g_rows: list[Tensor | None] = []          # ‖∂L/∂z‖ per row, [B] float32; None: none reached z
        self.z = _Reducing(_z_reducer(self.z_sum, self.z_norm, self.g_rows))
        self.a = _Reducing(_a_reducer(self.a_sum, self.a_rows))


def _norm_reducer(sums: list, grad_norms: list | None) -> Callable[[Tensor], None]:
    """Σz now, and ‖∂L/∂z‖ by a hook when backward produces it, unless `grad_norms` is None (z
    itself is not kept)."""
    def reduce(z: Tensor) -> None:
        sums.append(z.detach().sum())
        if grad_norms is None:
            return
        slot = len(grad_norms)
        grad_norms.append(None)
        if z.requires_grad:
            def hook(g: Tensor) -> None:
                grad_norms[slot] = torch.linalg.vector_norm(g)
            z.register_hook(hook)
    return reduce


def _z_reducer(sums: list, norms_: list, g_rows: list) -> Callable[[Tensor], None]:
    def reduce(z: Tensor) -> None:
        d = z.detach()
        sums.append(d.sum())
        norms_.append(torch.linalg.vector_norm(d))
        slot = len(g_rows)
        g_rows.append(None)
        if z.requires_grad:  # one Python hook per layer (each costs ~30 µs in backward): keep_grad's work too
            ref = weakref.ref(z)

            def hook(g: Tensor) -> None:
                t = ref()  # (the trace keeps z: alive here)
                if g_rows[slot] is not None and t is not None:  # reached twice: the sum
                    g = t.grad + g
                g_rows[slot] = torch.linalg.vector_norm(rows(g), dim=1)
                if t is not None:
                    t.grad = g
            z.register_hook(hook)
    return reduce


def _a_reducer(sums: list, row_norms: list) -> Callable[[Tensor], None]:
    def reduce(a: Tensor) -> None:
        d = a.detach()
        sums.append(d.sum())
        row_norms.append(torch.linalg.vector_norm(rows(d), dim=1))
    return reduce


class Simulator:
    """Builds the network of `config` and runs instrumented passes over it.

    `probe()` is one forward/backward pass on a fixed batch with no update;
    `step(n)` trains n steps and returns the statistics of the last one. The
    same config and seed give the same numbers on the CPU.

    Each update draws an effective batch of batch_size × grad_accum examples and
    accumulates the gradients of its grad_accum micro-batches (each loss divided by
    grad_accum) before one optimizer step at the warm-up's learning rate. A step's
    loss and accuracy are over the effective batch, its weight gradients and
    `grad_noise` those of the accumulated gradient; the activation and ∂L/∂z
    statistics are of the last micro-batch, with ∂L/∂z taken of that micro-batch's
    own mean loss so they read the same as without accumulation.

    The network comes from the architecture registry (core.architectures). For an architecture
    that reconstructs its input, the targets `y` are the inputs `x` themselves, the loss is the
    mean squared error and accuracy is NaN (not applicable).

    `cpu_after`: the ConfigError with which resolve_device refused 'cuda'; the Simulator is then
    built on the CPU (config.device = 'cpu') and `device_reason` says why (cpu_fallback_reason).
    """

    def __init__(self, config: SimConfig, *, cpu_after: ConfigError | None = None):
        tune_allocator()
        if cpu_after is not None:
            config = config.replace(device="cpu")
        self.config = config
        self.device, self.device_reason = resolve_device(config.device)
        if cpu_after is not None:
            self.device_reason = cpu_fallback_reason(cpu_after)
        check_fits(config, self.device)  # refuse before allocating anything large
        self.architecture = get_architecture(config.architecture)
        gen = torch.Generator().manual_seed(config.seed)
        data: Dataset = DATASETS[config.dataset](config, gen)
        self.n_classes = data.n_classes
        self.x = data.x.to(self.device)
        self.y = self.x if self.architecture.reconstruct else data.y.to(self.device)
        example_shape = tuple(data.x.shape[1:])
        self.model: InstrumentedNetwork = self.architecture.build(config, example_shape, data.n_classes, gen)
        if self.device.type != "cpu":  # (built on the CPU; .to() walks every module even when there is nothing to move)
            self.model.to(self.device)
        # (listed once: a walk of the module tree costs about 2 ms a step at depth 200)
        self._parameters = list(self.model.parameters())
        self.model.train()  # every pass trains (a user's factory may return its module in eval mode)
        self.optimizer = make_optimizer(config, self._parameters)
        effective_batch = config.batch_size * config.grad_accum
        self._sampler = BatchSampler(len(self.y), effective_batch, gen)
        probe_gen = torch.Generator().manual_seed(config.seed + 1)
        self._probe_idx = BatchSampler(len(self.y), effective_batch, probe_gen).next_indices().to(self.device)
        self._activation = ACTIVATIONS[config.activation]
        self._max_deriv = max_abs_derivative(config.activation, config.leaky_slope)
        self._weights = self.model.hidden_weights()
        self._before: list[Tensor] = []  # W before an update, where ΔW is measured (allocated when first used)
        self._trail: deque[StepRecord] = deque(maxlen=TRAIL_MAX)
        self._buffers: dict[str, Tensor] = {}  # large buffers kept between passes (none at present)
        self.steps_done = 0
        self.timing: StepTiming | None = None  # of the last step(n) call

    # --- public API -------------------------------------------------------------
    def use_batches_of(self, other: "Simulator") -> None:
        """Draw the same training batches as `other` from now on (an A/B comparison's B follows A;
        the data sets must have the same size, and the batch sizes must match)."""
        self._sampler = other._sampler.copy()

    def probe_inputs(self) -> Tensor:
        """The fixed probe batch's inputs (a copy, on the device): [batch_size × grad_accum, …]."""
        return self.x[self._probe_idx]

    def probe(self) -> Snapshot:
        """Forward and backward on the fixed probe batch; no parameter or buffer changes."""
        buffers = [b.detach().clone() for b in self.model.buffers()]
        try:
            return self._pass(self._probe_idx, update=False)
        finally:
            with torch.no_grad():
                for b, saved in zip(self.model.buffers(), buffers):
                    b.copy_(saved)
            self._zero_grads()

    def step(self, n: int = 1, stop: Callable[[], bool] | None = None, *, trail: bool = True) -> Snapshot:
        """Train n ≥ 1 steps; the snapshot holds the statistics of the last one, and `trail()`
        the loss, accuracy, clipping, ‖∂L/∂z‖ per layer and update ratios of the ones before it.

        With `trail=False` the steps before the last record nothing (`trail()` is empty) and skip
        what only the trail reads (the per-layer ‖∂L/∂z‖, ‖W‖, accuracy): for a caller that keeps
        only snapshots. They train exactly as with it and still catch a NaN/Inf in the loss, in any
        gradient (where a non-finite ∂L/∂z reaches the update) and in any probe point's z.

        Stops early, returning that step's snapshot, if a step produced a NaN/Inf. `stop`, if
        given, is asked before each uninstrumented step: once it says True, the next step is the
        last (so a caller pausing a long run waits for one or two steps, not for all n).
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self._trail.clear()
        t0 = time.perf_counter()
        cheap = 0
        for _ in range(n - 1):
            if stop is not None and stop():
                break
            bad_batch = self._bare_step(trail)
            cheap += 1
            if bad_batch is not None:  # report the step that went non-finite, on its own batch
                snap = self._pass(bad_batch, update=True)
                if snap.nonfinite:
                    return snap
                # a false alarm (Σz overflowed float32 on finite values): the pass made the step
                if trail:
                    ls = snap.layers
                    self._trail.append(StepRecord(snap.step, snap.loss, snap.accuracy, snap.clipped, ls.grad_norm,
                                                  ls.update_to_weight))
        t1 = time.perf_counter()
        snap = self._pass(self._sampler.next_indices().to(self.device), update=True)
        self.timing = StepTiming((t1 - t0) / cheap if cheap else None, time.perf_counter() - t1)
        return snap

    def trail(self) -> tuple[StepRecord, ...]:
        """The uninstrumented steps of the last step(n) call, oldest first (the most recent
        TRAIL_MAX of them): what a loss curve needs between two snapshots."""
        return tuple(self._trail)

    def spectrum(self) -> Spectrum | None:
        """Eigenvalues of W_hh now (core.spectrum), or None when unavailable_reason() says why not."""
        if unavailable_reason(self.config.architecture, self.config.width) is not None:
            return None
        with torch.no_grad():
            return recurrent_spectrum(self.model, self.steps_done)

    # --- internals --------------------------------------------------------------
    def _clip(self, params: list[Tensor], norm_before: float, measure: bool = True) -> float:
        """Clip the gradients of `params` as configured; return the global norm after (if `measure`,
        else NaN where clipping may have changed it: a step without records reads no norm after)."""
        cfg = self.config
        if cfg.clip_mode == "none":
            return norm_before
        if cfg.clip_mode == "norm":
            # torch.nn.utils.clip_grad_norm_'s rule, with the float64 norm: torch's own
            # float32 total overflows to inf for an exploding network and zeroes the step
            coef = cfg.clip_threshold / (norm_before + 1e-6)
            if coef < 1.0:
                torch._foreach_mul_([p.grad for p in params], coef)
        else:
            nn.utils.clip_grad_value_(params, cfg.clip_threshold)
        return _global_norm(norms([p.grad for p in params])) if measure else math.nan

    def _zero_grads(self) -> None:
        """Every parameter's gradient to None (the optimizer's zero_grad, without its profiler range)."""
        for p in self._parameters:
            p.grad = None

    def _params_with_grad(self) -> list[Tensor]:
        return [p for p in self._parameters if p.grad is not None]

    def _grads(self) -> tuple[list[Tensor], np.ndarray]:
        """Parameters that got a gradient, and each gradient's norm."""
        params = self._params_with_grad()
        return params, norms([p.grad for p in params])

    def _bare_step(self, record: bool = True) -> Tensor | None:
        """A training step without a snapshot (for step(n) with n > 1); appends its StepRecord if
        `record` (else it measures only what the update and the non-finite check need).

        Returns None, or the batch's indices if it went non-finite (then no update is made): a
        NaN/Inf in the loss, in any gradient, or in any probe point's z or (if `record`) ∂L/∂z.
        """
        cfg = self.config
        idx = self._sampler.next_indices().to(self.device)
        self._zero_grads()
        loss = correct = torch.zeros((), device=self.device)
        micro = self._micro(idx)
        for k, mb in enumerate(micro):
            # (∂L/∂z of the last micro-batch, as _pass)
            trace = _NormTrace(grads=record) if k == len(micro) - 1 else None
            logits = self.model(self.x[mb], trace)
            loss = loss + self._micro_loss(logits, self.y[mb]).detach()
            if record:
                correct = correct + _correct(logits, self.y[mb])
        params = self._params_with_grad()
        grads = [p.grad for p in params]
        # everything this step reports reaches the host in one transfer
        with torch.no_grad():
            parts = {"loss": loss, "grads": norms_device(grads), **trace.results()}
            if record:
                parts.update(correct=correct, weights=norms_device(self._weights))
            host = to_host(parts)
        grad_norms = finish_norms(host["grads"], grads)
        before = _global_norm(grad_norms)
        loss_value, z_grad_norms = float(host["loss"]), host["z_grads"]
        if not (math.isfinite(loss_value) and math.isfinite(before) and np.isfinite(host["z_sums"]).all()
                and np.isfinite(z_grad_norms).all()):
            return idx
        after = self._clip(params, before, measure=record)
        lr = effective_lr(cfg, self.steps_done + 1)
        set_lr(self.optimizer, lr)
        if not record:
            self.optimizer.step()
            self.steps_done += 1
            return None
        weight_norms = finish_norms(host["weights"], self._weights)
        by_id = {id(p): n for p, n in zip(params, grad_norms)}
        with torch.no_grad():
            update = self._apply_update(self.model.per_layer(weight_norms), by_id,
                                        after / before if before > 0 else 1.0, lr)[0]
        self.steps_done += 1
        self._trail.append(StepRecord(self.steps_done, loss_value, float(host["correct"]) / len(idx),
                                      _was_clipped(cfg, before, after), frozen_array(z_grad_norms * cfg.grad_accum),
                                      frozen_array(update)))
        return None

    def _micro(self, idx: Tensor) -> Tensor:
        """The effective batch's indices as [grad_accum, batch_size] micro-batches."""
        return idx.view(self.config.grad_accum, -1)

    def _micro_loss(self, logits: Tensor, y: Tensor) -> Tensor:
        """Backpropagate one micro-batch's mean loss divided by grad_accum; return the
        divided loss (the micro-batches' sum is the effective batch's mean loss)."""
        if self.architecture.reconstruct:  # y is the input batch itself
            loss = nn.functional.mse_loss(logits, y)
        else:
            loss = nn.functional.cross_entropy(logits, y)
        if self.config.grad_accum > 1:
            loss = loss / self.config.grad_accum
        loss.backward()
        return loss

    def _pass(self, idx: Tensor, update: bool) -> Snapshot:
        """Instrumented forward/backward on batch `idx`, then (if `update`) the optimizer step."""
        if not self.model.training:  # (nothing sets eval mode after the build; train() walks every module)
            self.model.train()
        self._zero_grads()
        traced = self._forward_backward(idx)
        params, param_grad_norms = self._grads()
        grad_before = _global_norm(param_grad_norms)
        grad_after = self._clip(params, grad_before)
        by_id = {id(p): g for p, g in zip(params, param_grad_norms)}
        with torch.no_grad():
            stats = self._layer_statistics(traced, by_id, len(idx))
            grad_bad = _bad_gradient_layers(stats)
            lr = effective_lr(self.config, self.steps_done + 1)  # a probe reports the next update's rate
            step_index, new_weight_norm = self.steps_done, None
            if update:
                step_index = self.steps_done + 1
                new_weight_norm = self._gated_update(stats, lr, traced.loss, grad_before, grad_after, grad_bad, by_id)
        stage, layer = _first_nonfinite(stats["act_nonfinite"], traced.loss, grad_bad, grad_before, new_weight_norm)
        return Snapshot(
            step=step_index, kind="step" if update else "probe",
            loss=traced.loss, accuracy=traced.accuracy, lr=lr,
            grad_norm_total=grad_before, grad_norm_clipped=grad_after,
            clipped=_was_clipped(self.config, grad_before, grad_after),
            nonfinite=stage is not None, nonfinite_layer=layer, nonfinite_stage=stage, layers=_freeze(stats),
        )

    def _forward_backward(self, idx: Tensor) -> _Traced:
        """Forward and backward over the micro-batches of `idx`, tracing the last one; the loss,
        accuracy and per-example gradient energy (core.noise) of the effective batch."""
        cfg = self.config
        loss_sum, correct, energy = 0.0, 0.0, 0.0
        micro = self._micro(idx)
        for k, mb in enumerate(micro):
            trace = _HotTrace() if k == len(micro) - 1 else Trace()  # (the last one is measured)
            logits = self.model(self.x[mb], trace)
            y = self.y[mb]
            loss_sum += float(self._micro_loss(logits, y).detach())
            correct += float(_correct(logits, y))
            shared = k == len(micro) - 1 and _inputs_are_outputs(trace)
            if not shared:  # else from the row norms _measure computes anyway
                part = example_energy([t.grad for t in trace.z], trace.h)
                energy = None if part is None or energy is None else energy + part
        if cfg.grad_accum > 1 and self.architecture.recurrent:
            # a time step's weight-gradient norm is its last micro-batch's (core/architectures/recurrent.py),
            # not the effective batch's mean the noise statistic needs: leave grad_noise undefined
            energy = None
        if cfg.grad_accum > 1:  # the last micro-batch's ∂L/∂z of its own mean loss (see the class docstring)
            torch._foreach_mul_([t.grad for t in trace.z if t.grad is not None], float(cfg.grad_accum))
        return _Traced(trace, loss_sum, correct / len(idx), energy, shared)

    def _layer_statistics(self, traced: _Traced, by_id: dict[int, float], n: int) -> dict[str, np.ndarray]:
        """Every per-layer statistic of a traced pass of `n` examples but those of the update
        (`by_id`: each parameter's gradient norm by id(parameter))."""
        stats, g_rows, a_rows = self._measure(traced.trace)
        energy = traced.energy
        if traced.shared and energy is not None:
            energy = energy + _shared_energy(traced.trace, g_rows / self.config.grad_accum**2, a_rows)
        stats["weight_grad_norm"] = self.model.layer_weight_grad_norms(traced.trace, by_id)
        stats["grad_noise"] = noise_to_signal(energy, n, stats["weight_grad_norm"], len(self.y))
        return stats

    def _gated_update(self, stats: dict[str, np.ndarray], lr: float, loss: float, grad_total: float,
                      grad_clipped: float, grad_bad: np.ndarray, by_id: dict[int, float]) -> np.ndarray | None:
        """The optimizer step at rate `lr`, unless the pass saw a NaN/Inf (which may not reach the
        loss: relu(−inf) = 0): an update from it is never applied. Fills stats['update_to_weight'];
        returns the new weight norms when they may be non-finite (see _apply_update)."""
        set_lr(self.optimizer, lr)
        if not (math.isfinite(loss) and math.isfinite(grad_total) and not stats["act_nonfinite"].any()
                and not grad_bad.any()):
            return None
        scale = grad_clipped / grad_total if grad_total > 0 else 1.0
        stats["update_to_weight"], new_weight_norm = self._apply_update(stats["weight_norm"], by_id, scale, lr)
        self.steps_done += 1
        return new_weight_norm

    def _measure(self, trace: _HotTrace) -> tuple[dict[str, np.ndarray], Tensor, Tensor]:
        """Per-layer statistics of one traced pass (everything but the update and weight
        gradients), and the squared row norms [L, B] of ∂L/∂z and of a (see _shared_energy).

        Each entry is read as `t.reshape(B, -1)` (layers may differ in shape): the whole-layer
        reductions come from the trace (taken while each layer was in cache), the sampled ones
        from the first rows of the layers, stacked per run of equal shapes; results stay on the
        device and move to the CPU in one transfer (core.stats).
        """
        zs, acts = list(trace.z), list(trace.a)  # (under no_grad: nothing read here joins the graph)
        gs = [t.grad if t.grad is not None else torch.zeros_like(t) for t in trace.z]
        # the whole-layer reductions were taken while each tensor was in cache (_HotTrace); the Σ stay
        # in float32: a float64 sum would copy the layer. Per-row squared norms in float64: ‖g_l‖²
        # and ‖a_l‖² are their sums, and the noise statistic's per-example energies their products
        z_sum, a_sum = torch.stack(trace.z_sum), torch.stack(trace.a_sum)
        z_sq = torch.stack(trace.z_norm).double().square_()
        a_rows_t = torch.stack(trace.a_rows).double().square_()                             # [L, B]
        no_grad = torch.zeros(len(trace.z) and trace.z[0].shape[0], device=self.device)
        g_rows_t = torch.stack([no_grad if r is None else r for r in trace.g_rows]).double().square_()
        if self.config.grad_accum > 1:  # ∂L/∂z was scaled by grad_accum after backward (see _forward_backward)
            g_rows_t.mul_(float(self.config.grad_accum) ** 2)
        # the sampled statistics read only the first rows of each layer, stacked per run of equal shapes
        act_rows = stacked_rows(acts, max(SATURATION_MAX_VALUES, HIST_MAX_VALUES, UNIT_SPREAD_MAX_VALUES))
        derivative = self._derivative_of_rows(trace, zs, acts, act_rows)
        spread = torch.cat([unit_spread_parts_stacked(first_rows(r, UNIT_SPREAD_MAX_VALUES)) for r in act_rows])
        act_counts, act_edges = histograms_stacked(act_rows)
        grad_counts, grad_edges = histograms_stacked(stacked_rows(gs, HIST_MAX_VALUES))
        host = to_host(dict(
            z_sum=z_sum, z_sq=z_sq, a_sum=a_sum, a_sq=a_rows_t.sum(1), g_sq=g_rows_t.sum(1), deriv=derivative.counts,
            act_counts=act_counts, act_edges=act_edges, grad_counts=grad_counts, grad_edges=grad_edges,
            weight_norm=norms_device(self._weights), spread=spread,
        ))
        pre = finish_moments(zs, host["z_sum"], host["z_sq"])
        act = finish_moments(acts, host["a_sum"], host["a_sq"])
        grad_norm = np.sqrt(host["g_sq"])
        grad_nonfinite = np.zeros(len(grad_norm), dtype=np.int64)
        for i in np.flatnonzero(~np.isfinite(grad_norm)):
            grad_nonfinite[i] = int(torch.count_nonzero(~torch.isfinite(gs[i])))
            if grad_nonfinite[i] == 0:  # float32 overflow of finite entries, as in norms()
                grad_norm[i] = float(torch.linalg.vector_norm(gs[i].double()))
        weight_norm = finish_norms(host["weight_norm"], self._weights)
        counts = host["deriv"]                                          # [L, 2]: saturated, dead
        if derivative.confirm is not None:
            counts[:, 1] = derivative.confirm(counts[:, 1])
        sizes = np.array([derivative_sizes(t) for t in derivative.shapes], dtype=np.float64).reshape(-1, 2)
        stats = dict(
            preact_mean=pre.mean, preact_std=pre.std, act_mean=act.mean, act_std=act.std,
            act_hist_counts=host["act_counts"], act_hist_edges=host["act_edges"],
            saturated_frac=counts[:, 0] / sizes[:, 0], dead_frac=counts[:, 1] / sizes[:, 1],
            grad_norm=grad_norm, grad_hist_counts=host["grad_counts"], grad_hist_edges=host["grad_edges"],
            weight_norm=self.model.per_layer(weight_norm), update_to_weight=np.full(len(grad_norm), np.nan),
            act_nonfinite=pre.nonfinite + act.nonfinite, grad_nonfinite=grad_nonfinite,
            unit_spread=spread_ratio(host["spread"]),
        )
        return stats, g_rows_t, a_rows_t

    def _apply_update(self, weight_norm: np.ndarray, grad_norm_by_id: dict[int, float], clip_scale: float,
                      lr: float) -> tuple[np.ndarray, np.ndarray | None]:
        """Optimizer step; returns ‖ΔW‖/‖W‖ per hidden layer, with W before the step (as in
        cs231n's update:data ratio, so weights the step zeroes give no 0 denominator), and the
        new ‖W‖, or None when it is finite for certain (then it is not computed).

        ‖ΔW‖ is that of the update the optimizer applies where that is a tensor at hand: plain
        SGD without weight decay ΔW = −lr·g (g clipped by norm: `clip_scale`·‖g‖, norms by
        id(W) in `grad_norm_by_id`), momentum ΔW = −lr·p (p its buffer after the step).
        Otherwise W before minus W after (a copy and a difference: three more passes over W); so too
        where a layer's update is so small against W that float32 rounds it away in part or whole
        (lr·‖g‖/‖W‖ < RESOLVED_UPDATE): what is reported is the update applied, not the one asked for.
        """
        weights, kind = self._weights, applied_update(self.config)
        if kind != "measured":
            asked = self.model.per_layer(lr * clip_scale * np.array([grad_norm_by_id.get(id(w), 0.0) for w in weights]))
            with np.errstate(invalid="ignore"):
                if np.any((asked > 0) & (asked < RESOLVED_UPDATE * weight_norm)):
                    kind = "measured"
        if kind == "gradient":
            self.optimizer.step()
            delta = lr * clip_scale * np.array([grad_norm_by_id.get(id(w), 0.0) for w in weights])
        elif kind == "momentum":
            self.optimizer.step()
            state = self.optimizer.state
            buffers = [state[w].get("momentum_buffer") if w in state else None for w in weights]
            delta = lr * norms([b if b is not None else torch.zeros_like(w) for b, w in zip(buffers, weights)])
        else:
            if not self._before:
                self._before = [torch.empty_like(w) for w in weights]
            torch._foreach_copy_(self._before, weights)
            self.optimizer.step()
            torch._foreach_sub_(self._before, weights)
            delta = norms(self._before)
        delta = self.model.per_layer(delta)
        new_norm = None
        # ‖W + ΔW‖ ≤ ‖W‖ + ‖ΔW‖: below float32's largest value no new entry can be Inf (nor NaN,
        # which a NaN ΔW would have shown); otherwise measure, to say the update overflowed
        if not (np.all(weight_norm + delta < FLOAT32_SAFE)):
            new_norm = self.model.per_layer(norms(weights))
        with np.errstate(divide="ignore", invalid="ignore"):
            return delta / weight_norm, new_norm

    def _derivative_of_rows(self, trace: Trace, zs: list[Tensor], acts: list[Tensor],
                            act_rows: list[Tensor]) -> "_DerivativeCounts":
        """Saturated entries and dead units per layer, from |φ′| at every activation input: the
        network's own where it gives one (LSTM gates, a user's model: whole layers, as given);
        else the configured activation's, of the sampled rows only (core.stats.sampled_derivative_counts),
        from the outputs when that is cheaper (`act_rows`: the activations' stacked first rows)."""
        own = self.model.abs_derivative(trace)  # a Tensor [L, B, …] or a list per layer
        if own is not None:
            layers = list(own.unbind(0)) if isinstance(own, Tensor) else list(own)
            counts = torch.stack([derivative_counts(d, self._max_deriv) for d in layers])
            return _DerivativeCounts(counts, layers, None)
        act, slope = self._activation, self.config.leaky_slope
        if act.from_output is not None:  # already |φ′| (see core.activations)
            sources, fn = acts, (lambda s: act.from_output(s, slope))
        else:
            sources = [t.detach() for t in trace.u] if self.model.has_norm else zs
            fn = lambda s: act.derivative(s, slope).abs_()  # noqa: E731
        stacks = act_rows if sources is acts else None
        if stacks is not None:  # the activations' rows, sampled for a larger budget already
            counts, masks = sampled_derivative_counts_of(stacks, fn, self._max_deriv)
        else:
            counts, masks = sampled_derivative_counts(sources, fn, self._max_deriv)
        return _DerivativeCounts(counts, sources,
                                 lambda candidates: confirm_dead(sources, fn, masks, candidates))


@dataclass
class _DerivativeCounts:
    """What _derivative_of_rows leaves on the device: counts [L, 2] (saturated, dead or dead
    candidates), the layers they describe (for their sizes), and `confirm` (candidates → exact
    dead counts, on the host) where the counts are of sampled rows."""

    counts: Tensor
    shapes: list[Tensor]
    confirm: Callable[[np.ndarray], np.ndarray] | None


@dataclass
class _Traced:
    """One instrumented forward/backward over an effective batch."""

    trace: Trace                # of the last micro-batch
    loss: float                 # the effective batch's mean loss
    accuracy: float             # NaN for a reconstruction
    energy: np.ndarray | None   # Σ over examples of core.noise's per-example energies; None: undefined
    shared: bool                # the last micro-batch's energy is still to come from _measure's row norms


def _bad_gradient_layers(stats: dict[str, np.ndarray]) -> np.ndarray:
    """A layer's gradient is bad where an entry is, and where its norm is not finite (beyond even float64)."""
    return ((stats["grad_nonfinite"] > 0) | ~np.isfinite(stats["grad_norm"])
            | ~np.isfinite(stats["weight_grad_norm"]))


_INTEGER_STATS = ("act_hist_counts", "grad_hist_counts", "act_nonfinite", "grad_nonfinite")


def _freeze(stats: dict[str, np.ndarray]) -> LayerStats:
    """The snapshot's read-only LayerStats, with ‖∂L/∂W‖/‖W‖ from the weight norms."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stats["grad_to_weight"] = stats["weight_grad_norm"] / stats["weight_norm"]
    return LayerStats(**{k: frozen_array(v, np.int64 if k in _INTEGER_STATS else np.float64)
                         for k, v in stats.items()})


def _inputs_are_outputs(trace: Trace) -> bool:
    """Whether each hidden layer's input is the previous layer's output (a plain MLP)."""
    return bool(trace.h) and all(h is a for h, a in zip(trace.h[1:], trace.a[:-1]))


def _shared_energy(trace: Trace, g_rows: Tensor, a_rows: Tensor) -> np.ndarray:
    """core.noise.example_energy for a plain MLP from squared row norms already computed:
    ‖∂L/∂z‖² rows `g_rows` [L, B] and ‖a‖² rows `a_rows` [L, B] (layer l's input is a_{l−1})."""
    x_rows = torch.linalg.vector_norm(trace.h[0].detach(), dim=1).double().square_()
    return energy_from_rows(g_rows, torch.cat([x_rows.unsqueeze(0), a_rows[:-1]]))


def _correct(logits: Tensor, y: Tensor) -> Tensor:
    """How many of the batch's predictions are right (a 0-d tensor, on the device); NaN for
    floating-point targets (a reconstruction, whose targets are the inputs: no classes to get right)."""
    if y.is_floating_point():
        return torch.full((), math.nan, device=y.device)
    return (logits.detach().argmax(1) == y).sum()


def _was_clipped(cfg: SimConfig, norm_before: float, norm_after: float) -> bool:
    return cfg.clip_mode != "none" and norm_after != norm_before


FLOAT32_SAFE = 3e38  # below torch.finfo(torch.float32).max ≈ 3.4e38
# float32 holds W to a relative 2⁻²⁴: an update of relative size r is applied with a rounding error
# of up to about 2⁻²⁴/r of itself, and not at all where r is below it. Under 2⁻¹⁶ (≤ 0.4 % error)
# ΔW is measured.
RESOLVED_UPDATE = 2.0**-16


def _global_norm(per_tensor: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(per_tensor)))) if len(per_tensor) else 0.0


def _first_nonfinite(forward_bad: np.ndarray, loss: float, grad_bad: np.ndarray, grad_total: float,
                     new_weight_norm: np.ndarray | None) -> tuple[str | None, int | None]:
    """Where a NaN/Inf first appeared: the first layer going forward, then the loss,
    then the first layer reached going backward (output side; None if only the
    readout's or a bias's gradient is bad), then the update."""
    if forward_bad.any():
        return "forward", int(np.flatnonzero(forward_bad)[0]) + 1
    if not math.isfinite(loss):
        return "loss", None
    if grad_bad.any():
        return "backward", int(np.flatnonzero(grad_bad)[-1]) + 1
    if not math.isfinite(grad_total):
        return "backward", None
    if new_weight_norm is not None and not np.isfinite(new_weight_norm).all():
        # the update itself overflowed the weights
        return "update", int(np.flatnonzero(~np.isfinite(new_weight_norm))[0]) + 1
    return None, None
