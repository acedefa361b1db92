"""Core speed against a bare PyTorch step (headless), probe latency, and this machine's memory bandwidth.

Targets (CPU, depth 50, width 256, batch 256, tanh, SGD):
  Simulator.step() with full statistics every step ≤ 1.25× the bare step;
  `python -m core run --every 10` (statistics every 10th step) ≤ 1.05× per step;
  a fresh Simulator(cfg).probe() ≤ 100 ms.

Method: each round times `--steps` bare steps and `--steps` steps of the measured kind back to back
(alternating which goes first), on the same model, optimizer and data, and takes their ratio; the
figures are the median and the range over the rounds. Machine noise that lasts longer than a round
hits both alike. Run: python bench/bench_core.py [--threads N] [--clock cpu] [--ops]

On a loaded machine wall times mostly measure the other processes: `--threads 1 --clock cpu` times the
CPU this process spends (per-step ratios that the load hardly moves), and `--ops` counts operators.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import SimConfig, Simulator  # noqa: E402
from core.cli_kit import record_steps  # noqa: E402  (the loop of `python -m core run`)
from core.stats import norms_device, to_host  # noqa: E402

CONFIG = SimConfig(depth=50, width=256, batch_size=256, activation="tanh", optimizer="sgd", device="cpu")


def bare_trainer(sim: Simulator):
    """The same model, optimizer and batches as `sim`, stepped with no statistics at all."""
    model, opt, sampler = sim.model, sim.optimizer, sim._sampler

    def step() -> None:
        idx = sampler.next_indices().to(sim.device)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(sim.x[idx]), sim.y[idx]).backward()
        opt.step()

    return step


CLOCK = time.perf_counter  # --clock cpu: time.process_time


def traced_trainer(sim: Simulator, grads: bool = True):
    """The bare step with the cheap step's trace: Σz per layer in the forward and, if `grads`,
    ‖∂L/∂z‖ per layer by a hook in backward (what the per-step records need of each layer; without
    `grads`, what the NaN/Inf check of a step without records needs), reduced nowhere else."""
    from core.simulator import _NormTrace
    model, opt, sampler = sim.model, sim.optimizer, sim._sampler

    def step() -> None:
        idx = sampler.next_indices().to(sim.device)
        opt.zero_grad(set_to_none=True)
        trace = _NormTrace(grads=grads)
        nn.functional.cross_entropy(model(sim.x[idx], trace), sim.y[idx]).backward()
        trace.results()["z_sums"].cpu()
        opt.step()

    return step


def hot_traced_trainer(sim: Simulator):
    """The bare step with the full statistics' whole-layer reductions and nothing else: Σz and ‖z‖,
    Σa and ‖a‖ per row, ‖∂L/∂z‖ per row by a hook, each taken as the layer is produced (what the exact
    moments, norms and gradient noise of a snapshot read of every layer), in one transfer."""
    from core.simulator import _HotTrace
    model, opt, sampler = sim.model, sim.optimizer, sim._sampler

    def step() -> None:
        idx = sampler.next_indices().to(sim.device)
        opt.zero_grad(set_to_none=True)
        trace = _HotTrace()
        nn.functional.cross_entropy(model(sim.x[idx], trace), sim.y[idx]).backward()
        to_host({name: torch.stack(part) for name, part in (("z_sum", trace.z_sum), ("z_norm", trace.z_norm),
                 ("a_sum", trace.a_sum), ("a_rows", trace.a_rows), ("g_rows", trace.g_rows))})
        opt.step()

    return step


def required_norms(sim: Simulator, weights: bool = True):
    """The per-step norms every recorded step needs beyond the trace: each parameter's gradient
    (global norm, clipping, the non-finite check, the update) and, if `weights`, each hidden weight
    (‖W‖ of the update ratio; a step without records reads the gradients only)."""
    params = [p for p in sim.model.parameters() if p.grad is not None]

    def norms() -> None:
        norms_device([p.grad for p in params]).cpu()
        if weights:
            norms_device(sim._weights).cpu()

    return norms


def timed(fn, n: int) -> float:
    """Seconds per call of fn over n calls, by CLOCK."""
    t0 = CLOCK()
    for _ in range(n):
        fn()
    return (CLOCK() - t0) / n


def interleaved(bare, other, steps: int, rounds: int, per_call: int = 1) -> tuple[float, list[float]]:
    """(median bare ms per step, the rounds' ratios of `other` per step to bare per step);
    `other` makes `per_call` steps a call."""
    bare_ms, ratios = [], []
    calls = max(1, steps // per_call)
    for r in range(rounds):
        if r % 2:
            o = timed(other, calls) / per_call
            b = timed(bare, calls * per_call)
        else:
            b = timed(bare, calls * per_call)
            o = timed(other, calls) / per_call
        bare_ms.append(b * 1e3)
        ratios.append(o / b)
    return statistics.median(bare_ms), ratios


def bandwidth_gbs(mb: int = 256) -> float:
    """Read+write bandwidth of a large torch copy, GB/s (2 × size / time)."""
    x = torch.ones(mb * 2**20 // 4)
    y = torch.empty_like(x)
    y.copy_(x)
    t = min(timed(lambda: y.copy_(x), 3) for _ in range(3))
    return 2 * x.numel() * 4 / t / 1e9


def read_gbs(mb: int = 256) -> float:
    """Read bandwidth of a large torch sum, GB/s."""
    x = torch.ones(mb * 2**20 // 4)
    x.sum()
    t = min(timed(lambda: x.sum(), 3) for _ in range(3))
    return x.numel() * 4 / t / 1e9


def statistics_bytes(cfg: SimConfig) -> tuple[int, int, int]:
    """(bytes read by the full statistics of a snapshot, by one recorded step's cheap statistics, by
    a step without records) beyond a bare step, for an MLP: the snapshot reads z, a and ∂L/∂z once
    each (each layer's further reductions hit the cache) and ‖W‖; a recorded step reads the weight
    gradients (their norms, for the non-finite check and clipping), W (‖W‖ for the update ratio) and
    ∂L/∂z (its norms, hooked while it is in cache: counted anyway); a step without records the
    weight gradients and z (Σz: counted too)."""
    acts = cfg.depth * cfg.batch_size * cfg.width * 4
    weights = (cfg.depth - 1) * cfg.width * cfg.width * 4
    return 3 * acts + weights, 2 * weights + acts, weights + acts


def op_counts(fn, calls: int, per_call: int = 1) -> tuple[float, list[tuple[str, float]]]:
    """(aten operators per step, nested ones included, and the 12 most frequent with their counts
    per step) of `fn` under torch.profiler: a figure that does not depend on the machine's load."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            fn()
    steps = calls * per_call
    counts = [(e.key, e.count / steps) for e in prof.key_averages() if e.key.startswith("aten::")]
    counts.sort(key=lambda kc: -kc[1])
    return sum(c for _, c in counts), counts[:12]


def describe(ratios: list[float]) -> str:
    return (f"median {statistics.median(ratios):.3f}x, range {min(ratios):.3f}-{max(ratios):.3f}x "
            f"over {len(ratios)} rounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or the process's CPU time (with --threads 1 the time this step computes, "
                             "whatever else the machine runs: the figure to take on a loaded machine)")
    parser.add_argument("--ops", action="store_true", help="print operator counts per step (torch.profiler) and stop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    sim = Simulator(CONFIG)
    bare = bare_trainer(sim)
    for _ in range(3):  # warm up every path
        bare(); sim.step(); sim.step(2)
    if args.ops:
        for name, fn, calls, per_call in (("bare step", bare, 5, 1), ("Simulator.step()", sim.step, 5, 1),
                                          ("Simulator.step(10), per step", lambda: sim.step(10), 2, 10)):
            total, top = op_counts(fn, calls, per_call)
            print(f"{name}: {total:.0f} aten operators a step; " + ", ".join(f"{k[6:]} {c:.0f}" for k, c in top))
        return
    read = read_gbs()
    print(f"config: depth 50, width 256, batch 256, tanh, SGD, {sim.device_reason}, torch threads "
          f"{torch.get_num_threads()}, {args.clock} clock; bandwidth: copy {bandwidth_gbs():.1f} GB/s, "
          f"read {read:.1f} GB/s")
    b_ms, full = interleaved(bare, sim.step, args.steps, args.rounds)
    print(f"bare PyTorch step:                      {b_ms:7.2f} ms (median)")
    print("memory the statistics read, and its time at " + f"{read:.1f} GB/s: " + ", ".join(
        f"{b / 1e6:.0f} MB {what} ({b / read / 1e6:.2f} ms, {b / read / 1e6 / b_ms:.3f}x the bare step)"
        for b, what in zip(statistics_bytes(CONFIG), ("a snapshot", "a recorded step", "a step without records"))))
    print(f"Simulator.step(), statistics every step: {describe(full)}  (target <= 1.25x)")
    _, hot = interleaved(bare, hot_traced_trainer(sim), args.steps, args.rounds)
    print(f"  of which the bare step with the whole-layer reductions alone (Σz, ‖z‖, Σa, ‖a‖ and ‖dL/dz‖ per row, "
          f"as each layer is produced): {describe(hot)}")

    def run_every_10() -> None:  # one call of the CLI's loop: 10 steps, the 10th with full statistics
        record_steps(sim, sim.steps_done + 10, 10, quiet=True)

    _, every10 = interleaved(bare, run_every_10, args.steps, args.rounds, per_call=10)
    print(f"python -m core run --every 10, per step: {describe(every10)}  (target <= 1.05x)")
    # what its nine steps without records need at the least: Σz per layer and the gradients' norms
    _, summed = interleaved(bare, traced_trainer(sim, grads=False), args.steps, args.rounds)
    print(f"  of which the bare step with Σz per layer alone (the NaN/Inf check of z): {describe(summed)}")
    _, grad_reads = interleaved(bare, required_norms(sim, weights=False), args.steps, args.rounds)
    print(f"  and the gradient norms alone, against the bare step: {describe(grad_reads)}")
    floor = (9 * (statistics.median(summed) + statistics.median(grad_reads)) + statistics.median(full)) / 10
    print(f"  so at least (9 × (Σz + gradient norms) + step()) / 10 = {floor:.3f}x with these statistics")
    _, chunk = interleaved(bare, lambda: sim.step(10), args.steps, args.rounds, per_call=10)
    print(f"Simulator.step(10), per step:            {describe(chunk)}")
    # what the per-step records cost at the least: the trace's per-layer reductions, and the norms
    _, traced = interleaved(bare, traced_trainer(sim), args.steps, args.rounds)
    print(f"  of which the bare step with the per-layer trace (Σz, ‖dL/dz‖ hook): {describe(traced)}")
    _, reads = interleaved(bare, required_norms(sim), args.steps, args.rounds)
    print(f"  and the weight-gradient and weight norms alone, against the bare step: {describe(reads)}")
    print(f"so step() costs at least whole-layer reductions + these norms = "
          f"{statistics.median(hot) + statistics.median(reads):.3f}x before its sampled statistics (histograms, "
          f"saturation, dead units, unit spread)")
    probes = [timed(lambda: Simulator(CONFIG).probe(), 1) * 1e3 for _ in range(5)]
    print(f"fresh Simulator(cfg).probe():            median {statistics.median(probes):.0f} ms, "
          f"range {min(probes):.0f}-{max(probes):.0f} ms (target <= 100 ms)")


if __name__ == "__main__":
    main()
