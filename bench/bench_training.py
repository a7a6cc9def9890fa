"""Training throughput: TLMLDA's model FLOP/s per step against this machine's fp32 matmul peak, and
independent trainings side by side (processes x threads) against one training using every core."""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np
import torch

from sercross.methods import NetworkEstimator, TrainConfig, get_preset

D, N, CLASSES = 1582, 400, 5


def matmul_flops(threads: int, n: int = 2048, reps: int = 10) -> float:
    """fp32 FLOP/s of a large square matmul with the given thread count (best of three timings)."""
    torch.set_num_threads(threads)
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b  # warm-up
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t))
    return best


def model_flops_per_step(d: int, batch: int, cfg: TrainConfig) -> tuple[float, float]:
    """Dense-layer FLOPs of one training step on a source and a target batch of ``batch`` each.

    Returns (conventional, executed). Conventional: forward 2·in·out per sample and layer, backward twice
    that (the usual 6·parameters·samples count). Executed: without the input gradient of the first layer,
    which autograd never computes because the features need no gradient.
    """
    sizes = [d, *cfg.encoder_sizes]
    dec_sizes = [cfg.encoder_sizes[-1], *reversed(cfg.encoder_sizes[:-1]), d]
    dnn_sizes = [cfg.encoder_sizes[-1], *cfg.dnn_sizes]
    macs = sum(a * b for s in (sizes, dec_sizes, dnn_sizes) for a, b in zip(s, s[1:]))
    samples = 2 * batch
    conventional = 6 * macs * samples
    executed = conventional - 2 * d * cfg.encoder_sizes[0] * samples
    return float(conventional), float(executed)


def _data():
    rng = np.random.default_rng(0)
    Xs, Xt = rng.random((N, D), dtype=np.float32), rng.random((N, D), dtype=np.float32)
    return Xs, rng.integers(0, CLASSES, N), Xt


def _fit(threads: int, epochs: int) -> list[float]:
    """Seconds per epoch of a paper-network training (per-step monitoring off: it runs one step in 100)."""
    Xs, ys, Xt = _data()
    cfg = get_preset("paper", epochs=epochs, monitor_target=False, threads=threads, grad_share_every=0)
    est = NetworkEstimator(config=cfg, random_state=0).fit(Xs, ys, Xt, CLASSES)
    return [r["seconds"] for r in est.history_]


def _fit_timed(args) -> tuple[float, float]:
    threads, epochs = args
    _fit(threads, 1)  # warm-up in this process
    t = time.perf_counter()
    _fit(threads, epochs)
    return t, time.perf_counter()


def step_seconds(threads: int, epochs: int) -> float:
    seconds = _fit(threads, epochs + 1)[1:]  # epoch 1 is warm-up
    return float(np.median(seconds)) / int(np.ceil(N / 100))


def concurrency(cores: int, epochs: int) -> tuple[float, float]:
    """Trainings per second: ``cores`` single-threaded processes side by side vs one process after another
    with ``cores`` threads (the two ways a benchmark grid can use the machine)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(cores) as pool:
        spans = pool.map(_fit_timed, [(1, epochs)] * cores)
    side_by_side = cores / (max(e for _, e in spans) - min(s for s, _ in spans))
    with ctx.Pool(1) as pool:
        spans = pool.map(_fit_timed, [(cores, epochs)] * cores)
    one_after_another = cores / sum(e - s for s, e in spans)
    return side_by_side, one_after_another


def side_by_side_ratio(cores: int, epochs: int, conventional: float) -> tuple[list[float], list[float], float]:
    """The ratio for the way `sercross benchmark` uses the machine by default: ``cores`` single-threaded
    trainings at once, against ``cores`` single-threaded matmuls at once (both share caches and memory).

    Returns the step times (s) and matmul peaks (FLOP/s) of the processes, and the ratio of the summed
    model FLOP/s to the summed peaks.
    """
    ctx = mp.get_context("spawn")
    with ctx.Pool(cores) as pool:
        steps = pool.starmap(step_seconds, [(1, epochs)] * cores)
    with ctx.Pool(cores) as pool:
        peaks = pool.map(matmul_flops, [1] * cores)
    return steps, peaks, sum(conventional / s for s in steps) / sum(peaks)


def bench_training(threads: int, epochs: int) -> None:
    cfg = get_preset("paper")
    conventional, executed = model_flops_per_step(D, cfg.batch_size, cfg)
    for t in sorted({1, threads}):
        step = step_seconds(t, epochs)
        peak = matmul_flops(t)
        print(f"training step (batch {cfg.batch_size}+{cfg.batch_size}, {t} thread{'s' * (t > 1)}): "
              f"{1000 * step:.1f} ms; matmul peak {peak / 1e9:.1f} GFLOP/s")
        print(f"  TLMLDA {conventional / step / 1e9:.1f} GFLOP/s (6·params·samples), ratio to peak "
              f"{conventional / step / peak:.2f}; executed FLOPs only: ratio {executed / step / peak:.2f}")
    if threads > 1:
        steps, peaks, ratio = side_by_side_ratio(threads, epochs, conventional)
        print(f"{threads} single-thread trainings side by side (the benchmark grid's default): steps "
              f"{', '.join(f'{1000 * s:.1f}' for s in steps)} ms, single-thread matmul peaks side by side "
              f"{', '.join(f'{p / 1e9:.1f}' for p in peaks)} GFLOP/s: ratio {ratio:.2f} (6·params·samples)")
        side, serial = concurrency(threads, epochs)
        print(f"grid throughput: {threads} x 1-thread processes {side * 3600:.0f} trainings/h of {epochs} epochs, "
              f"1 x {threads}-thread process {serial * 3600:.0f}/h: ratio {side / serial:.2f} "
              f"(faster here: {'processes' if side >= serial else 'threads'}; `sercross benchmark` runs one "
              f"1-thread process per core, `--jobs 1` one process with every core)")
