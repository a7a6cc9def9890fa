"""Speed measurements for sercross, each printed as a ratio of timings taken in this one run.

Usage: python bench/run.py [--quick] [--only training,precision,extraction]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_extraction  # noqa: E402
import bench_precision  # noqa: E402
import bench_training  # noqa: E402

PARTS = ("training", "precision", "extraction")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer files and epochs")
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts among {', '.join(PARTS)}")
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"unknown parts {unknown}; choose among {', '.join(PARTS)}")
    threads = os.cpu_count() or 1
    if "training" in parts:
        bench_training.bench_training(threads, epochs=2 if args.quick else 5)
    if "precision" in parts:
        bench_precision.bench_precision(epochs=2 if args.quick else 5)
    if "extraction" in parts:
        bench_extraction.bench_extraction(100 if args.quick else 500, full=not args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
