"""Extraction speed on real utterances: serial vs parallel, adding files, and fully cached re-runs.

Measured in one run on the same files, from CASIA (16 kHz) and EmoDB (22.05 kHz, so resampling is exercised)
in ../shared/corpora:

1. ``n_files`` utterances spread over both corpora, extracted with 1 worker and then with every core, each into
   an empty cache: the parallel speed-up.
2. (full mode) every utterance of both corpora (1735) into the parallel run's cache: only the new files are
   extracted (the cache is keyed by content, so the files already extracted from another folder are reused).
3. Fully cached re-runs of all those files: with the stat index (the normal case) and without it (every file
   read and hashed again, what a first run on a moved or copied corpus costs).

The measurements run in a fresh interpreter (``python bench_extraction.py``), as ``sercross extract`` does:
in bench/run.py torch is already loaded, which would switch the worker pool to the slower spawn start method.
Timings taken on a machine where other work runs are noisy: the load average is printed with them.

Usage: python bench/bench_extraction.py [--files N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CORPORA = {"casia": ("casia", "*/*/*.wav"), "berlin": ("emodb", "wav/*.wav")}  # manifest: (folder, layout)


def bench_extraction(n_files: int = 500, full: bool = True) -> None:
    """Print the extraction benchmark, measured in a subprocess (see the module docstring)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--files", str(n_files)] + ([] if full else ["--quick"])
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    sys.stdout.flush()
    subprocess.run(cmd, env=env, check=False)


def _available() -> dict[str, list[Path]]:
    found = {}
    for name, (folder, pattern) in CORPORA.items():
        root = SHARED / folder
        if root.is_dir():
            found[name] = sorted(root.glob(pattern))
    return found


def _spread(files: list[Path], k: int) -> list[Path]:
    """k files evenly spread over the sorted list (so every speaker and emotion is represented)."""
    if k >= len(files):
        return list(files)
    return [files[(i * len(files)) // k] for i in range(k)]


def _copy(files: dict[str, list[Path]], dest: Path) -> dict[str, Path]:
    roots = {}
    for name, paths in files.items():
        src_root = SHARED / CORPORA[name][0]
        roots[name] = dest / name
        for f in paths:
            target = dest / name / f.relative_to(src_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
    return roots


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (worker pools are joined before a run returns)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _extract(roots: dict[str, Path], cache: Path, jobs: int) -> tuple[float, dict]:
    from sercross.corpora import load_manifest
    from sercross.features import extract_corpus

    totals = {"files": 0, "extracted": 0, "cached": 0, "hashed": 0, "skipped": 0, "audio": 0.0}
    cpu = _cpu_seconds()
    t = time.perf_counter()
    for name, root in roots.items():
        s = extract_corpus(load_manifest(name), root, cache, jobs=jobs)
        totals["files"] += s.n_files
        totals["extracted"] += s.n_extracted
        totals["cached"] += s.n_cached
        totals["hashed"] += s.n_hashed
        totals["skipped"] += len(s.skipped)
        totals["audio"] += s.audio_seconds
    wall = time.perf_counter() - t
    totals["cpu"] = _cpu_seconds() - cpu
    return wall, totals


def _load() -> str:
    try:
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load n/a"


def run(n_files: int, full: bool) -> None:
    from sercross.infra import usable_cpus

    available = _available()
    if not available:
        print(f"extraction: skipped, no real corpus under {SHARED}")
        return
    total = sum(len(v) for v in available.values())
    n_files = min(n_files, total)
    subset = {k: _spread(v, round(n_files * len(v) / total)) for k, v in available.items()}
    n_sub = sum(len(v) for v in subset.values())
    jobs = usable_cpus()
    print(f"extraction ({jobs} cores; {_load()} before starting; timings are wall clock, noisy under load)")
    with tempfile.TemporaryDirectory(prefix="sercross-bench-") as tmp:
        tmp = Path(tmp)
        sub_roots = _copy(subset, tmp / "subset")
        full_roots = _copy(available, tmp / "all") if full else sub_roots

        # Warm-up (untimed): imports and first-call costs go to neither side of the comparison.
        _extract(_copy({k: v[:2] for k, v in subset.items()}, tmp / "warm-up"), tmp / "cache-warm-up", 1)
        serial, info = _extract(sub_roots, tmp / "cache-serial", 1)
        par, info_par = _extract(sub_roots, tmp / "cache-parallel", jobs)
        parts = ", ".join(f"{len(v)} {k}" for k, v in subset.items())
        print(f"  {n_sub} files ({parts}; {info['audio'] / 60:.1f} min of audio, {info['skipped']} skipped): "
              f"serial {serial:.1f} s ({n_sub / serial:.1f} files/s), {jobs} jobs {par:.1f} s "
              f"({n_sub / par:.1f} files/s), speed-up {serial / par:.2f}x  [{_load()}]")
        # Wall-clock speed-up needs idle cores. CPU time does not: if the parallel run costs little more CPU
        # than the serial one, the work is spread without overhead and idle cores would give about this ratio.
        print(f"  CPU time: serial {info['cpu']:.1f} s ({info['cpu'] / serial:.2f} cores busy), "
              f"{jobs} jobs {info_par['cpu']:.1f} s (+{100 * (info_par['cpu'] / info['cpu'] - 1):.0f} %: "
              f"worker start-up, inter-process traffic); on {jobs} idle cores about "
              f"{jobs * info['cpu'] / info_par['cpu']:.2f}x")

        cache = tmp / "cache-parallel"
        if full:
            t, info = _extract(full_roots, cache, jobs)
            print(f"  all {info['files']} files from another folder into that cache: {info['extracted']} extracted, "
                  f"{info['cached']} reused by content, {t:.1f} s  [{_load()}]")
        runs = []
        for _ in range(3):
            t, info = _extract(full_roots, cache, jobs)
            runs.append((t, info["hashed"]))
        for name in full_roots:  # without the stat index every file is read and hashed again
            (cache / "features" / name / "IS10" / "stat_index.json").unlink(missing_ok=True)
        t_nostat, info_nostat = _extract(full_roots, cache, jobs)
        assert info_nostat["extracted"] == 0, info_nostat
        times = ", ".join(f"{t:.2f} s ({h} hashed)" for t, h in runs)
        print(f"  fully cached re-run of {info['files']} files: {times}; without the stat index "
              f"{t_nostat:.2f} s ({info_nostat['hashed']} hashed)  [{_load()}]")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=500, help="files for serial vs parallel (default 500)")
    ap.add_argument("--quick", action="store_true", help="no incremental step; cached re-runs of those files only")
    args = ap.parse_args(argv)
    try:
        import sercross  # noqa: F401
    except ImportError:  # a source checkout without an installed sercross
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    run(args.files, full=not args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
