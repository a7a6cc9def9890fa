"""Speed measurements for sercross, each printed as a ratio of timings taken in this one run.

Usage: python bench/run.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_extraction  # noqa: E402
import bench_training  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer files and epochs")
    args = ap.parse_args(argv)
    threads = os.cpu_count() or 1
    bench_training.bench_training(threads, epochs=2 if args.quick else 5)
    bench_extraction.bench_extraction(100 if args.quick else 500, full=not args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
