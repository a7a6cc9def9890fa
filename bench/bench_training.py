"""Training throughput: TLMLDA's model FLOP/s per step against this machine's fp32 matmul peak."""

from __future__ import annotations

import time

import numpy as np
import torch

from sercross.config import get_preset
from sercross.train import TLMLDA


def matmul_flops(threads: int, n: int = 2048, reps: int = 10) -> float:
    """fp32 FLOP/s of a large square matmul with the given thread count."""
    torch.set_num_threads(threads)
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b  # warm-up
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def model_flops_per_step(d: int, batch: int, cfg) -> float:
    """Dense-layer FLOPs of one training step (forward 2·in·out per sample, backward twice that)."""
    sizes = [d, *cfg.encoder_sizes]
    enc = sum(a * b for a, b in zip(sizes, sizes[1:]))
    dec_sizes = [cfg.encoder_sizes[-1], *reversed(cfg.encoder_sizes[:-1]), d]
    dec = sum(a * b for a, b in zip(dec_sizes, dec_sizes[1:]))
    dnn_sizes = [cfg.encoder_sizes[-1], *cfg.dnn_sizes]
    dnn = sum(a * b for a, b in zip(dnn_sizes, dnn_sizes[1:]))
    per_sample = 2 * (enc + dec + dnn)
    return 3 * per_sample * 2 * batch  # source and target batches


def bench_training(threads: int, epochs: int) -> None:
    rng = np.random.default_rng(0)
    d, n, classes = 1582, 400, 5
    Xs, Xt = rng.random((n, d), dtype=np.float32), rng.random((n, d), dtype=np.float32)
    ys = rng.integers(0, classes, n)
    cfg = get_preset("paper", epochs=epochs + 1, monitor_target=False, threads=threads)
    est = TLMLDA(config=cfg, random_state=0).fit(Xs, ys, Xt, classes)
    steps_per_epoch = int(np.ceil(n / cfg.batch_size))
    step = np.mean([r["seconds"] for r in est.history_[1:]]) / steps_per_epoch  # epoch 1 is warm-up
    peak = matmul_flops(threads)
    achieved = model_flops_per_step(d, cfg.batch_size, cfg) / step
    print(f"training step (batch {cfg.batch_size}+{cfg.batch_size}, {threads} threads): {1000 * step:.1f} ms")
    print(f"  matmul peak {peak / 1e9:.1f} GFLOP/s, TLMLDA {achieved / 1e9:.1f} GFLOP/s, ratio {achieved / peak:.2f}")
