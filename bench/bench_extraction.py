"""Extraction speed: serial vs parallel on real utterances, and a fully cached re-run."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def bench_extraction(n_files: int) -> None:
    from sercross.corpora import load_manifest
    from sercross.features import extract_corpus

    root = SHARED / "casia"
    if not root.is_dir():
        print(f"extraction: skipped, no real corpus at {root}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "casia"
        files = sorted(root.glob("*/*/*.wav"))[:n_files]
        for f in files:
            dst = sub / f.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst)
        m = load_manifest("casia")
        times = {}
        for jobs in (1, os.cpu_count() or 1):
            t = time.perf_counter()
            extract_corpus(m, sub, Path(tmp) / f"cache{jobs}", jobs=jobs)
            times[jobs] = time.perf_counter() - t
        t = time.perf_counter()
        extract_corpus(m, sub, Path(tmp) / "cache1", jobs=1)
        cached = time.perf_counter() - t
    serial, par = times[1], times[max(times)]
    print(f"extraction of {len(files)} CASIA files: serial {serial:.1f} s, {max(times)} jobs {par:.1f} s, "
          f"speed-up {serial / par:.2f}x; fully cached re-run {cached:.2f} s")
