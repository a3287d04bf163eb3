#!/usr/bin/python3
"""Matmul GFLOP/s of this PyTorch's BLAS at given shapes: the machine's compute limit that the
benchmarks' figures are set against (bench/gpt2.mjs, bench/minigpt.mjs).

  /usr/bin/python3 bench/pytorch/matmul_bench.py --shapes 512x768x3072,1664x64x256 --json

Each shape MxKxN is [M, K] @ [K, N] in float32 (2 M K N flops), repeated for at least
--min-seconds after one warm-up; the figure is the median repetition's rate.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blas_info import blas_info  # noqa: E402


def gflops(m, k, n, min_seconds):
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.matmul(a, b)
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - t)
    return 2 * m * k * n / statistics.median(times) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", default="1024x1024x1024")
    p.add_argument("--min-seconds", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = {"blas": blas_info(), "matmul": []}
    for s in args.shapes.split(","):
        m, k, n = (int(x) for x in s.split("x"))
        g = gflops(m, k, n, args.min_seconds)
        out["matmul"].append({"shape": [m, k, n], "gflop_s": g})
        print(f"matmul {m}x{k}x{n}: {g:.1f} GFLOP/s ({out['blas']['blas']})", file=sys.stderr)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
