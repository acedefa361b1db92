"""Grid throughput: cells per second on the local Dask cluster against a plain sequential loop.

Both run the same cells with the same `core.grid.run_cell` (one torch thread each), so the only
difference is the executor. The cluster figure counts from a started cluster (its start-up is
printed apart: it is paid once per grid). Results are checked equal cell by cell.

    python bench/bench_grid.py [--cells-x 4 --cells-y 4 --steps 100 --depth 20 --width 64 --workers N]

Read it as: sequential cells/s ≈ 1 / (time of one cell on one core); cluster cells/s should
approach workers × that on an idle machine with as many free cores, minus the scheduling
overhead (a few ms per cell, visible only for tiny cells).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import SimConfig  # noqa: E402
from core.grid import GridFile, GridSpec, connect, default_workers, parse_axis, run_cell, run_grid  # noqa: E402
from core.grid.cell import RESULT_COLUMNS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells-x", type=int, default=4)
    ap.add_argument("--cells-y", type=int, default=4)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()
    base = SimConfig(activation="tanh", init="lecun_normal", bias_std=0.05 ** 0.5, width=args.width,
                     depth=args.depth, n_samples=1024, batch_size=64, device="cpu")
    spec = GridSpec(base, parse_axis(f"sigma_w2=1:4:{args.cells_x}"),
                    parse_axis(f"lr=0.01:0.1:{args.cells_y}:log"), args.steps)
    cells = spec.cells()
    print(f"{len(cells)} cells: depth {args.depth}, width {args.width}, {args.steps} steps each; "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start")

    t0 = time.perf_counter()
    sequential = {c.key: run_cell(c.config, spec.steps) for c in cells}
    seq_s = time.perf_counter() - t0
    print(f"sequential loop (this process, 1 torch thread): {seq_s:.1f} s, {len(cells) / seq_s:.3f} cells/s")

    t0 = time.perf_counter()
    with connect(workers=args.workers) as client:
        client.wait_for_workers(args.workers)
        up = time.perf_counter() - t0
        client.run(lambda: __import__("core.grid.cell"))  # each worker's imports, paid once like the start-up
        t1 = time.perf_counter()
        out = GridFile(None, spec)
        run_grid(spec, client, out)
        grid_s = time.perf_counter() - t1
    print(f"local cluster start-up ({args.workers} workers × 1 thread): {up:.1f} s")
    print(f"local cluster: {grid_s:.1f} s, {len(cells) / grid_s:.3f} cells/s "
          f"({seq_s / grid_s:.2f}x the sequential loop)")
    same = all(out.rows[k][c] == v[c] or (v[c] != v[c] and out.rows[k][c] != out.rows[k][c])
               for k, v in sequential.items() for c in RESULT_COLUMNS)
    print(f"results identical cell by cell: {same}; load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
