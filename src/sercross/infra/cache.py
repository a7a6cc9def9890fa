"""Where artifacts live, and how they are written so that none is ever half-written.

Layout (documented in docs/protocol.md, versioned by ``sercross.CACHE_VERSION``)::

    <cache>/manifests/<corpus>.toml            the manifest of a corpus given by path or renamed (extract --name)
    <cache>/features/<corpus>/<feature_set>/   features.npy index.csv meta.json
    <cache>/pairs/<pair>/<feature_set>/       pair.npz meta.json
    <cache>/runs/<pair>/<method>/<tag>-seed<k>/
                                               config.json model.pt history.csv metrics.json predictions.csv

``<pair>`` is ``<source>__<target>`` for a pair's default class set, ``<source>__<target>~<class>+<class>…`` for
another (:class:`sercross.experiments.PairKey` builds it); ``<tag>`` is the preset and the run's other settings.

Writes go to a temporary file in the target's folder and are renamed into place (:func:`atomic_write_bytes`
and friends). Failures a user can fix (read-only folder, read-only file system, full disk, quota) become a
:class:`SercrossError` naming the path, with a hint. :func:`file_lock` serialises writers of a group of files
that belong together (an advisory ``flock``; a no-op where ``fcntl`` does not exist).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sercross import CACHE_VERSION
from sercross.infra.errors import DamagedFileError, SercrossError

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


def manifests_dir(cache: Path) -> Path:
    """Copies of the manifests of corpora named in this cache (given by path or renamed with ``extract --name``)."""
    return cache / "manifests"


def pair_dir(cache: Path, pair: str, feature_set: str) -> Path:
    """The folder of a pair; ``pair``: its folder name (``PairKey.dirname``)."""
    return cache / "pairs" / pair / feature_set


def run_dir(cache: Path, pair: str, method: str, tag: str, seed: int) -> Path:
    """The folder of a run; ``pair``: its pair's folder name (``PairKey.dirname``)."""
    return cache / "runs" / pair / method / f"{tag}-seed{seed}"


_PROC_STATUS = Path("/proc/self/status")


def _umask() -> int:
    """The process's umask, read without changing it where Linux exposes it (os.umask can only swap)."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_file_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in ``path``'s folder, for writing ``path`` and renaming it into place.

    mkstemp creates files readable by their owner only; renamed into the cache they would stay so. They get
    the permissions any new file gets (0666 minus the umask), so a shared cache stays readable by the group.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except (AttributeError, OSError):  # no fchmod (Windows) or a file system without permissions
        pass
    return fd, tmp


@contextmanager
def _atomic_target(path: Path, mode: str):
    """Open a temp file next to ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(path)
    except OSError as exc:
        error = _write_error(exc, path.parent, path)
        if error is None:
            raise
        raise error from exc
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        error = _write_error(exc, path.parent, path)
        if error is None:
            raise
        raise error from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise


_FULL_DISK = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _write_error(exc: OSError, folder: Path, path: Path | None = None) -> SercrossError | None:
    """The user-facing error for a failed write in ``folder`` (of ``path``), or None if it is not one of those."""
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) or isinstance(exc, (NotADirectoryError, FileExistsError)):
        return SercrossError(
            f"cannot write to {folder}: part of that path is a file, not a folder",
            hint="choose another cache with --cache DIR or the SERCROSS_CACHE variable (or move the file away)",
        )
    if exc.errno in _NOT_WRITABLE or isinstance(exc, PermissionError):
        why = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
        return SercrossError(
            f"cannot write to {folder}: {why}",
            hint="choose a writable cache with --cache DIR or the SERCROSS_CACHE variable",
        )
    if exc.errno in _FULL_DISK:
        what = "disk quota exceeded" if exc.errno != errno.ENOSPC else "no space left on the device"
        return SercrossError(
            f"{what} while writing {path or folder}",
            hint="free some disk space or point --cache at another disk",
        )
    return None


def _unlink_quietly(p: str | Path) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def ensure_writable_dir(folder: Path) -> Path:
    """Create ``folder`` if needed and check that files can be created in it (before any long work starts)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        error = _write_error(exc, folder)
        if error is None:
            raise
        raise error from exc
    return folder


def remove_stale_temps(folder: Path, max_age: float = 3600.0, recursive_depth: int = 0) -> int:
    """Delete temporary files that a killed writer left in ``folder`` (and ``recursive_depth`` levels below).

    Only names this module creates (``.<name>.<random>.tmp``) older than ``max_age`` seconds are removed, so a
    concurrent writer's file in flight is never touched. They are never read in any case; this only frees space.
    Returns how many were removed; problems (permissions, races) are ignored.
    """
    limit, removed = time.time() - max_age, 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                if recursive_depth > 0:
                    removed += remove_stale_temps(Path(e.path), max_age, recursive_depth - 1)
            elif e.name.startswith(".") and e.name.endswith(".tmp") and e.stat().st_mtime < limit:
                os.unlink(e.path)
                removed += 1
        except OSError:
            continue
    return removed


@contextmanager
def file_lock(path: Path, shared: bool = False) -> Iterator[bool]:
    """Hold an advisory lock on ``path`` (``fcntl.flock``) for the duration of the block; yields whether it is held.

    Exclusive locks create the lock file (a write error becomes a :class:`SercrossError`); a shared lock on a
    file that does not exist or cannot be opened (a read-only cache written before locks existed) is skipped,
    as is any lock where ``fcntl`` is unavailable. Locks are released when the process dies, even by SIGKILL.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield False
        return
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if shared:
            yield False
            return
        error = _write_error(exc, path.parent, path)
        if error is None:
            raise
        raise error from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with _atomic_target(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_write_npy(path: Path, array) -> None:
    import numpy as np  # here: commands that write no array (`corpora list`) start faster without numpy

    with _atomic_target(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def atomic_write_npz(path: Path, **arrays) -> None:
    import numpy as np

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
        try:
            return json.load(fh)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise DamagedFileError(
                f"{path} is damaged: not valid JSON ({exc})",
                hint="sercross writes it whole or not at all, so it was changed afterwards: delete the folder it is "
                "in (a run: train it again with --force)",
            ) from exc


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
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
