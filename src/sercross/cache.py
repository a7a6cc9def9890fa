"""Where artifacts live, and how they are written so that none is ever half-written.

Layout (documented in the README, versioned by ``sercross.CACHE_VERSION``)::

    <cache>/features/<corpus>/<feature_set>/   features.npy index.csv meta.json
    <cache>/pairs/<source>__<target>/<feature_set>/   pair.npz meta.json
    <cache>/runs/<source>__<target>/<method>/<preset>-seed<k>/
                                               config.json model.pt history.csv metrics.json predictions.csv
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from sercross import CACHE_VERSION
from sercross.errors import SercrossError

ENV_CACHE = "SERCROSS_CACHE"
DEFAULT_CACHE = Path("~/.cache/sercross")


def resolve_cache(cache: str | os.PathLike | None = None) -> Path:
    """``--cache`` if given, else ``$SERCROSS_CACHE``, else ``~/.cache/sercross``."""
    if cache is None or str(cache) == "":
        cache = os.environ.get(ENV_CACHE) or DEFAULT_CACHE
    return Path(cache).expanduser()


def scheme_name(source: str, target: str) -> str:
    return f"{source}__{target}"


def features_dir(cache: Path, corpus: str, feature_set: str) -> Path:
    return cache / "features" / corpus / feature_set


def pair_dir(cache: Path, source: str, target: str, feature_set: str) -> Path:
    return cache / "pairs" / scheme_name(source, target) / feature_set


def run_dir(cache: Path, source: str, target: str, method: str, preset: str, seed: int) -> Path:
    return cache / "runs" / scheme_name(source, target) / method / f"{preset}-seed{seed}"


@contextmanager
def _atomic_target(path: Path, mode: str):
    """Open a temp file next to ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except PermissionError as exc:
        raise SercrossError(
            f"cannot write to {path.parent}: permission denied",
            hint="choose a writable cache with --cache DIR or the SERCROSS_CACHE variable",
        ) from exc
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        if exc.errno == 28:  # ENOSPC
            raise SercrossError(
                f"no space left on the device while writing {path}",
                hint="free some disk space or point --cache at another disk",
            ) from exc
        raise
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(p: str | Path) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with _atomic_target(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_write_npy(path: Path, array: np.ndarray) -> None:
    with _atomic_target(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def atomic_write_npz(path: Path, **arrays: np.ndarray) -> None:
    with _atomic_target(path, "wb") as fh:
        np.savez(fh, **arrays)


def atomic_write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def atomic_write_with(path: Path, write: Callable[[Any], None]) -> None:
    """For writers that want a binary file handle (``torch.save``)."""
    with _atomic_target(path, "wb") as fh:
        write(fh)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def check_meta(meta: dict, path: Path, what: str, **expected: Any) -> None:
    """Refuse artifacts written by another cache version or with other settings."""
    if meta.get("cache_version") != CACHE_VERSION:
        raise SercrossError(
            f"{what} at {path} was written by cache layout v{meta.get('cache_version')}, "
            f"this sercross uses v{CACHE_VERSION}",
            hint="re-create it (add --force) or use a fresh --cache directory",
        )
    for key, value in expected.items():
        if meta.get(key) != value:
            raise SercrossError(
                f"{what} at {path} has {key}={meta.get(key)!r}, expected {value!r}",
                hint="re-create it with --force, or use a fresh --cache directory",
            )


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
