import errno
import os
import stat
import threading
import time

import numpy as np
import pytest

import sercross.infra.cache as cache_mod
from sercross import CACHE_VERSION
from sercross.infra.cache import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_npy,
    check_meta,
    ensure_writable_dir,
    file_lock,
    read_json,
    remove_stale_temps,
)
from sercross.infra.errors import SercrossError


def _raise(err):
    def fail(*args, **kwargs):
        raise OSError(err, os.strerror(err))

    return fail


def test_atomic_write_replaces_whole_files_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "x.npy"
    atomic_write_npy(target, np.arange(3, dtype=np.float32))
    assert np.array_equal(np.load(target), [0, 1, 2])
    with pytest.raises(RuntimeError):
        with cache_mod._atomic_target(target, "wb") as fh:
            fh.write(b"half")
            raise RuntimeError("killed mid-write")
    assert np.array_equal(np.load(target), [0, 1, 2])
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.npy"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("proc", [True, False], ids=["proc-status", "no-proc"])
def test_cache_files_get_the_umask_permissions_not_mkstemps_owner_only(tmp_path, monkeypatch, umask, proc):
    if not proc:
        monkeypatch.setattr(cache_mod, "_PROC_STATUS", tmp_path / "missing")
    old = os.umask(umask)
    try:
        target = tmp_path / "x.json"
        atomic_write_json(target, {"a": 1})
        mode = stat.S_IMODE(target.stat().st_mode)
    finally:
        os.umask(old)
    assert mode == 0o666 & ~umask


@pytest.mark.parametrize(
    "err, words",
    [(errno.EACCES, "permission denied"), (errno.EPERM, "permission denied"), (errno.EROFS, "read-only file system")],
)
def test_unwritable_folder_is_a_user_error_naming_it(tmp_path, monkeypatch, err, words):
    monkeypatch.setattr(cache_mod.tempfile, "mkstemp", _raise(err))
    with pytest.raises(SercrossError) as exc:
        atomic_write_bytes(tmp_path / "a" / "f.bin", b"x")
    assert exc.value.message == f"cannot write to {tmp_path / 'a'}: {words}"
    assert "--cache" in exc.value.hint and "SERCROSS_CACHE" in exc.value.hint


def test_a_cache_path_through_a_file_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("x")
    for write in (lambda: atomic_write_bytes(tmp_path / "file" / "sub" / "f.bin", b"x"),
                  lambda: ensure_writable_dir(tmp_path / "file")):
        with pytest.raises(SercrossError) as exc:
            write()
        assert "is a file, not a folder" in exc.value.message and "--cache" in exc.value.hint


def test_a_damaged_json_file_is_a_user_error_that_is_also_a_value_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"cache_ver')
    with pytest.raises(SercrossError) as exc:
        read_json(path)
    assert str(path) in exc.value.message and "damaged" in exc.value.message
    with pytest.raises(ValueError):  # callers that skip unreadable files keep doing so
        read_json(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(SercrossError):
        read_json(path)


@pytest.mark.parametrize("err, words", [(errno.ENOSPC, "no space left on the device"), (errno.EDQUOT, "disk quota")])
def test_full_disk_is_a_user_error_naming_the_file_and_cleans_up(tmp_path, monkeypatch, err, words):
    monkeypatch.setattr(cache_mod.os, "fsync", _raise(err))
    with pytest.raises(SercrossError) as exc:
        atomic_write_bytes(tmp_path / "f.bin", b"x" * 100)
    assert exc.value.message.startswith(words) and str(tmp_path / "f.bin") in exc.value.message
    assert "disk" in exc.value.hint
    assert list(tmp_path.iterdir()) == []


def test_rename_refused_is_mapped_and_other_errors_are_not(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_mod.os, "replace", _raise(errno.EACCES))
    with pytest.raises(SercrossError, match="permission denied"):
        atomic_write_bytes(tmp_path / "f.bin", b"x")
    monkeypatch.setattr(cache_mod.os, "replace", _raise(errno.EIO))
    with pytest.raises(OSError) as exc:  # a hardware error is not the user's to fix: it keeps its traceback
        atomic_write_bytes(tmp_path / "f.bin", b"x")
    assert not isinstance(exc.value, SercrossError) and exc.value.errno == errno.EIO
    assert list(tmp_path.iterdir()) == []


def test_ensure_writable_dir(tmp_path, monkeypatch):
    d = ensure_writable_dir(tmp_path / "a" / "b")
    assert d.is_dir() and list(d.iterdir()) == []
    monkeypatch.setattr(cache_mod.tempfile, "mkstemp", _raise(errno.EROFS))
    with pytest.raises(SercrossError, match=f"cannot write to {tmp_path / 'c'}: read-only file system"):
        ensure_writable_dir(tmp_path / "c")


def test_remove_stale_temps_only_touches_old_leftovers(tmp_path):
    sub = tmp_path / "files" / "ab"
    sub.mkdir(parents=True)
    old = [tmp_path / ".meta.json.x1.tmp", sub / ".k.npy.x2.tmp"]
    young = sub / ".k2.npy.x3.tmp"
    others = [tmp_path / "meta.json", sub / "k.npy", tmp_path / "old.tmp"]  # not names the writer creates
    for p in old + [young] + others:
        p.write_bytes(b"")
    past = time.time() - 7200
    for p in old + others:
        os.utime(p, (past, past))
    assert remove_stale_temps(tmp_path, recursive_depth=0) == 1
    assert remove_stale_temps(tmp_path, recursive_depth=2) == 1
    assert not any(p.exists() for p in old) and young.exists() and all(p.exists() for p in others)
    assert remove_stale_temps(tmp_path / "missing") == 0


def test_exclusive_lock_serialises_and_shared_locks_coexist(tmp_path):
    lock = tmp_path / "d" / ".lock"
    lock.parent.mkdir()
    got = threading.Event()

    def other():
        with file_lock(lock):
            got.set()

    with file_lock(lock) as held:
        assert held and lock.exists()
        t = threading.Thread(target=other)
        t.start()
        assert not got.wait(0.3)  # blocked while this one holds it
    t.join(5)
    assert got.is_set()

    with file_lock(lock, shared=True), file_lock(lock, shared=True) as held:
        assert held  # readers do not block each other
    with file_lock(tmp_path / "none" / ".lock", shared=True) as held:
        assert held is False  # nothing to lock (a read-only cache written before locks existed): read anyway
    assert not (tmp_path / "none").exists()


def test_exclusive_lock_in_unwritable_folder_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_mod.os, "open", _raise(errno.EACCES))
    with pytest.raises(SercrossError, match=f"cannot write to {tmp_path}: permission denied"):
        with file_lock(tmp_path / ".lock"):
            pass


def test_check_meta_refuses_other_versions_and_settings(tmp_path):
    check_meta({"cache_version": CACHE_VERSION, "feature_set": "IS10"}, tmp_path, "x", feature_set="IS10")
    with pytest.raises(SercrossError, match=f"cache layout v{CACHE_VERSION - 1}, this sercross uses v{CACHE_VERSION}"):
        check_meta({"cache_version": CACHE_VERSION - 1}, tmp_path, "x")
    with pytest.raises(SercrossError, match="feature_set='IS09', expected 'IS10'"):
        check_meta({"cache_version": CACHE_VERSION, "feature_set": "IS09"}, tmp_path, "x", feature_set="IS10")
