"""Core speed: instrumented `Simulator.step()` against a bare PyTorch step, and probe latency.

Target (issue 2), CPU, depth 50, width 256, batch 256, tanh: step ≤ 1.10× bare,
probe of a fresh Simulator ≤ 100 ms. Run: python bench/bench_core.py
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


def bare_trainer(sim: Simulator):
    """The same model, optimizer and batches as `sim`, stepped with no statistics at all."""
    model, opt, sampler = sim.model, sim.optimizer, sim._sampler

    def step() -> None:
        idx = sampler.next_indices()
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(sim.x[idx]), sim.y[idx]).backward()
        opt.step()

    return step


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    cfg = SimConfig(depth=50, width=256, batch_size=256, activation="tanh", device="cpu")
    sim = Simulator(cfg)
    bare = bare_trainer(sim)
    for _ in range(5):  # warm up both paths
        bare(); sim.step()
    # interleave rounds so that machine noise hits both alike
    bare_ms, inst_ms = [], []
    for _ in range(3):
        bare_ms.append(median_ms(bare, args.repeats))
        inst_ms.append(median_ms(sim.step, args.repeats))
    b, s = statistics.median(bare_ms), statistics.median(inst_ms)
    amortized = median_ms(lambda: sim.step(10), max(3, args.repeats // 5)) / 10
    probe_ms = median_ms(lambda: Simulator(cfg).probe(), 5)
    probe_only = median_ms(sim.probe, 10)
    print(f"config: depth 50, width 256, batch 256, tanh, {sim.device_reason}, torch threads {torch.get_num_threads()}")
    print(f"bare PyTorch step:               {b:8.2f} ms")
    print(f"Simulator.step() (full stats):   {s:8.2f} ms   ratio {s / b:.3f}x  (target <= 1.10x)")
    print(f"Simulator.step(10) per step:     {amortized:8.2f} ms   ratio {amortized / b:.3f}x")
    print(f"fresh Simulator(cfg).probe():    {probe_ms:8.2f} ms   (target <= 100 ms)")
    print(f"probe() on a built Simulator:    {probe_only:8.2f} ms")


if __name__ == "__main__":
    main()
