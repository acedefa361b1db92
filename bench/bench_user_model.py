"""Instrumentation overhead on a user's own model: resources/examples/small_cnn.py on the digits.

Compares, interleaved round by round so that a change in the machine's load hits both alike:
  * `Simulator.step()`: one fully instrumented step (forward hooks on the model's weighted layers,
    every per-layer statistic, the update ratio);
  * `Simulator.step(K)` per step: K − 1 uninstrumented steps (no hooks registered) and one instrumented;
  * a bare loop of the same module, optimizer and batches: forward, cross-entropy, backward, step.
Prints the medians and the ratios. Run: python bench/bench_user_model.py [--width 64 --batch 128]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core import SimConfig, Simulator  # noqa: E402

EXAMPLE = ROOT / "resources" / "examples" / "small_cnn.py"


def bare_trainer(sim: Simulator):
    """The user's module itself (not the wrapper), the same optimizer and batches, no statistics."""
    module, opt, sampler = sim.model.module, sim.optimizer, sim._sampler

    def step() -> None:
        idx = sampler.next_indices()
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(module(sim.x[idx]), sim.y[idx]).backward()
        opt.step()

    return step


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64, help="the example's channels are width // 16")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--chunk", type=int, default=20, help="K of Simulator.step(K)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SimConfig(architecture="user", model=f"{EXAMPLE}:make", dataset="digits", n_samples=1797,
                    batch_size=args.batch, width=args.width, activation="relu", optimizer="adam", lr=1e-3,
                    device="cpu")
    sim = Simulator(cfg)
    bare = bare_trainer(sim)
    for _ in range(5):  # warm-up: allocator, autograd graph caches
        sim.step()
        bare()
    instrumented, chunked, plain = [], [], []
    for _ in range(args.rounds):
        instrumented.append(timed(sim.step))
        plain.append(timed(bare))
        chunked.append(timed(lambda: sim.step(args.chunk)) / args.chunk)
        plain.append(timed(bare))
    ms = {name: statistics.median(v) * 1000 for name, v in
          (("instrumented", instrumented), ("chunked", chunked), ("bare", plain))}
    print(f"small_cnn.py (width {args.width}: {sim.model.probe_modules.__len__()} probe points), digits, "
          f"batch {args.batch}, {args.threads} torch thread(s), {args.rounds} interleaved rounds")
    print(f"  bare loop                     {ms['bare']:7.3f} ms/step")
    print(f"  Simulator.step()              {ms['instrumented']:7.3f} ms/step  = {ms['instrumented'] / ms['bare']:.2f}x bare")
    print(f"  Simulator.step({args.chunk}) per step     {ms['chunked']:7.3f} ms/step  = {ms['chunked'] / ms['bare']:.2f}x bare")


if __name__ == "__main__":
    main()
