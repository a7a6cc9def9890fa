"""bf16 against fp32 on this CPU, single thread, all in one run: matmul peaks (a 2048² square and the first layer's
shape), the paper network's training step in each precision, their ratio, and the bf16 step's share of the bf16 peak.

On a CPU without native bf16, torch emulates bf16 matmuls with a slow reference loop: the numbers are then printed
as measured, with a line saying so; they say nothing about a machine with AVX512-BF16 or AMX.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from bench_training import CLASSES, D, N, _data, model_flops_per_step

from sercross.methods import NetworkEstimator, get_preset, native_bf16

FIRST_LAYER = (200, 1582, 1200)  # a source+target batch times the first layer's weight
GOAL = 0.45  # issue 21: bf16 step <= 0.45 x the fp32 step


def matmul_peak(m: int, k: int, n: int, dtype: torch.dtype, budget: float = 1.0) -> float:
    """FLOP/s of an (m x k) @ (k x n) matmul in ``dtype``: the best of three windows of about ``budget`` seconds,
    or a single product when one alone takes longer than the budget (emulated bf16: 20 s or more for 2048²)."""
    a, b = torch.rand(m, k).to(dtype), torch.rand(k, n).to(dtype)
    t = time.perf_counter()
    a @ b  # warm-up, and the measurement when it is slow
    first = time.perf_counter() - t
    flops = 2.0 * m * k * n
    if first > budget:
        return flops / first
    reps = max(1, int(budget / max(first, 1e-6)))
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, flops * reps / (time.perf_counter() - t))
    return best


def step_seconds(precision: str, epochs: int) -> float:
    """Median seconds per training step of the paper network (batch 100 + 100), epoch 1 being the warm-up."""
    Xs, ys, Xt = _data()
    cfg = get_preset("paper", epochs=epochs + 1, monitor_target=False, threads=1, grad_share_every=0,
                     precision=precision)
    est = NetworkEstimator(config=cfg, random_state=0).fit(Xs, ys, Xt, CLASSES)
    seconds = [r["seconds"] for r in est.history_][1:]
    return float(np.median(seconds)) / int(np.ceil(N / cfg.batch_size))


def bench_precision(epochs: int) -> dict:
    """Print and return the measurements (one thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        native = native_bf16()
        peaks = {(shape, name): matmul_peak(*shape, dtype) for shape in ((2048, 2048, 2048), FIRST_LAYER)
                 for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
        # Emulated bf16 steps take seconds each: one epoch after the warm-up is enough to time them.
        steps = {"fp32": step_seconds("fp32", epochs),
                 "bf16": step_seconds("bf16", epochs if native.precision == "bf16" else 1)}
    finally:
        torch.set_num_threads(before)
    conventional, _ = model_flops_per_step(D, 100, get_preset("paper"))
    print(f"precision, 1 thread: native bf16 {'yes' if native.precision == 'bf16' else 'NO'} ({native.reason})")
    for shape in ((2048, 2048, 2048), FIRST_LAYER):
        f32, b16 = peaks[(shape, "fp32")], peaks[(shape, "bf16")]
        print(f"  matmul {shape[0]}x{shape[1]} @ {shape[1]}x{shape[2]}: fp32 {f32 / 1e9:.1f} GFLOP/s, bf16 "
              f"{b16 / 1e9:.1f} GFLOP/s (bf16/fp32 {b16 / f32:.2f}x)")
    ratio = steps["bf16"] / steps["fp32"]
    print(f"  training step (paper network, batch 100+100): fp32 {1000 * steps['fp32']:.1f} ms, bf16 "
          f"{1000 * steps['bf16']:.1f} ms: bf16/fp32 = {ratio:.2f} (goal <= {GOAL}: "
          f"{'met' if ratio <= GOAL else 'not met'})")
    peak_f32, peak_b16 = peaks[((2048, 2048, 2048), "fp32")], peaks[((2048, 2048, 2048), "bf16")]
    print(f"  model FLOP/s (6·params·samples): fp32 step {conventional / steps['fp32'] / 1e9:.1f} GFLOP/s = "
          f"{conventional / steps['fp32'] / peak_f32:.2f} of the fp32 2048² peak; bf16 step "
          f"{conventional / steps['bf16'] / 1e9:.1f} GFLOP/s = {conventional / steps['bf16'] / peak_b16:.2f} of the "
          "bf16 2048² peak")
    if native.precision != "bf16":
        print("  this CPU lacks native bf16 (no avx512_bf16 / amx_bf16): torch emulates bf16 here, so bf16 is "
              "slower than fp32 and these bf16 numbers say nothing about a bf16 machine; run `make bench` there")
    return {"native": native.precision == "bf16", "peaks": peaks, "steps": steps, "ratio": ratio}
