"""Facts about this process and its files that several stages need: usable CPUs, content hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def usable_cpus() -> int:
    """The CPUs this process may run on (not all of the machine's in a container or under taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - not Linux


def sha1_file(path: str | os.PathLike, salt: bytes = b"") -> str:
    """SHA-1 of a file's content (read in 1 MiB blocks), followed by ``salt`` when given."""
    h = hashlib.sha1()
    with open(Path(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(salt)
    return h.hexdigest()


def sha1_bytes(*parts: bytes) -> str:
    """SHA-1 of the concatenated ``parts``."""
    h = hashlib.sha1()
    for part in parts:
        h.update(part)
    return h.hexdigest()


# The libraries whose version can change a run's numbers. (The same seed and the same versions on another machine
# also gave other shallow results on the development pairs, docs/selection.md: hence blas_backends as well.)
RESULT_LIBRARIES = ("numpy", "scipy", "scikit-learn", "torch", "skada", "POT", "opensmile")


def library_versions(names: tuple[str, ...] = RESULT_LIBRARIES) -> dict[str, str | None]:
    """``{distribution: installed version}`` (None: not installed), to record beside a run's results."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def blas_backends() -> list[str]:
    """The BLAS and OpenMP libraries numpy and scipy call, as ``"openblas 0.3.30 Haswell, 2 threads"``.

    Which kernel a BLAS picks for this CPU (its "architecture") changes the order of floating-point sums, and on an
    ill-conditioned problem (a linear OT map fitted on speaker-normalised features) that changes the result: recorded
    beside a run's numbers so that two machines' runs can be told apart. Empty when threadpoolctl is missing.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return []
    out = []
    for lib in threadpool_info():
        parts = [lib.get("internal_api"), lib.get("version"), lib.get("architecture")]
        out.append(" ".join(str(p) for p in parts if p) + f", {lib.get('num_threads')} threads")
    return sorted(set(out))
