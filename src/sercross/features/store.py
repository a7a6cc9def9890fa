"""The per-file store of openSMILE's values, keyed by content, and the stat index that avoids hashing again.

In ``<cache>/features/<corpus>/<feature_set>/``:

- ``files/<xx>/<key>.npy``: openSMILE's output for one audio file, exactly as returned. ``key`` is the SHA-1 of
  the file's bytes together with the feature set, the opensmile version and ``CACHE_VERSION``, so a re-run
  extracts only new or changed audio, duplicates are extracted once, and values of another feature set, another
  opensmile version or another cache layout are never reused or mixed.
- ``stat_index.json``: absolute path, size, mtime, ctime and inode of every file of the last run → its key, so
  that unchanged files are not read and hashed again (it matters for corpora of large video clips). An entry
  is trusted only if all five match and the file's times were at least ``RACY_SECONDS`` old when it was
  recorded (a file modified within the file system's timestamp resolution could otherwise keep the same
  stat); anything else is hashed again, and a file whose content did not change (``touch``, a copied corpus)
  is then found in the store without extraction. The index is only a shortcut: deleting it costs one hash
  per file, nothing else.

Every file is written under a temporary name and renamed into place, so nothing half-written is ever read;
concurrent writers of one key write the same values, so per-file writes need no lock.
"""

from __future__ import annotations

import functools
import io
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION
from sercross.corpora import Skipped, Utterance
from sercross.infra import atomic_write_bytes, atomic_write_json, read_json, sha1_file

STAT_INDEX = "stat_index.json"
# stat entries younger than this are not trusted (see the module docstring); 2 s covers FAT's resolution.
RACY_SECONDS = 2.0


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def content_key(path: Path, feature_set: str, smile_version: str) -> str:
    return sha1_file(path, f"|{feature_set}|opensmile-{smile_version}|cache-{CACHE_VERSION}".encode())


def stored_path(out_dir: Path, key: str) -> str:
    return os.path.join(out_dir, "files", key[:2], f"{key}.npy")  # str: built thousands of times per run


def store(out_dir: Path, key: str, values: np.ndarray) -> None:
    atomic_write_bytes(Path(stored_path(out_dir, key)), npy_bytes(values))


@functools.cache
def _npy_header(dim: int) -> bytes:
    """The exact .npy header :func:`store` writes for a float32 vector of ``dim`` values."""
    return npy_bytes(np.zeros(dim, np.float32))[: -4 * dim]


def load_stored(path: Path | str, dim: int) -> np.ndarray | None:
    """A stored vector of the right shape (possibly with NaN/inf: openSMILE's output as it was), else None."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None  # not extracted yet
    # Fast path for the files this module writes (a fully cached run reads thousands): compare the header bytes
    # instead of parsing them. Anything else goes through np.load and its checks.
    header = _npy_header(dim)
    if len(data) == len(header) + 4 * dim and data.startswith(header):
        return np.frombuffer(data, dtype=np.float32, offset=len(header)).copy()
    try:
        v = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # an unreadable leftover: extracted again
    if not isinstance(v, np.ndarray) or v.shape != (dim,) or v.dtype != np.float32:
        return None
    return v


def _stat_salt(feature_set: str, version: str) -> dict:
    return {"cache_version": CACHE_VERSION, "feature_set": feature_set, "opensmile_version": version}


def _read_stat_index(path: Path, salt: dict) -> dict[str, list]:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or any(data.get(k) != v for k, v in salt.items()):
        return {}  # another version or feature set: its keys would not apply
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def content_keys(
    out: Path, root: Path, utterances: Sequence[Utterance], feature_set: str, version: str
) -> tuple[dict[str, str], list[Skipped], int]:
    """Key of every readable file (from the stat index when it can be trusted), unreadable files, files hashed."""
    salt = _stat_salt(feature_set, version)
    index_path = out / STAT_INDEX
    old = _read_stat_index(index_path, salt)
    new: dict[str, list] = {}
    keys: dict[str, str] = {}
    unreadable: list[Skipped] = []
    hashed = 0
    for u in utterances:
        path = os.path.join(root, u.file)
        name = os.path.abspath(path)
        try:
            st = os.stat(path)
            sig = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            entry = old.get(name)
            if isinstance(entry, list) and len(entry) == 5 and entry[:4] == sig:
                key = entry[4]
            else:
                key = content_key(path, feature_set, version)
                hashed += 1
        except OSError as exc:
            unreadable.append(Skipped(u.file, f"{path}: cannot read ({exc.strerror or exc})"))
            continue
        keys[u.file] = key
        # A file changed again within the timestamp resolution could keep this stat: keep such entries out of
        # the index (they are hashed again next time) until their times are safely in the past.
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_SECONDS * 1e9:
            new[name] = sig + [key]
    if new != old:
        atomic_write_json(index_path, dict(salt, entries=new))
    return keys, unreadable, hashed
