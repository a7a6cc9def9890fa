"""Glue between stages: reuse what the cache has, build what is missing, say exactly what cannot be built."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sercross.corpora import Manifest, load_manifest, resolve_root
from sercross.experiments.keys import PairKey
from sercross.experiments.pairs import (
    Pair,
    build_pair,
    load_pair,
    pair_classes,
    save_pair,
    write_target_scaling,
    write_target_speakers,
)
from sercross.experiments.scaling import minmax_params
from sercross.features import FeatureTable, load_features
from sercross.infra import SercrossError, atomic_write_json, features_dir, read_json


def corpus_name(name: str, cache: Path | None = None) -> str:
    """Canonical corpus id for a name or alias (``B`` -> ``berlin``); ``cache``: also the corpora it knows by name."""
    return load_manifest(name, cache).name


def features_or_extract(cache: Path, manifest: Manifest, feature_set: str, extract) -> FeatureTable:
    """Cached features of a corpus; when absent, extract them if a root is configured.

    ``extract(manifest, root)`` runs the extraction (the CLI passes one that shows progress).
    """
    if (features_dir(cache, manifest.name, feature_set) / "meta.json").is_file():
        return load_features(cache, manifest.name, feature_set)
    try:
        root = resolve_root(manifest)
    except SercrossError as exc:
        raise SercrossError(
            f"corpus {manifest.name!r} has no {feature_set} features in {cache} and no root is configured",
            hint=f"run `sercross extract {manifest.name} --root PATH` (or set {manifest.env_var})"
            + ("; `sercross demo` synthesizes the demo corpora and works in its own cache (demo-output/cache)"
               if manifest.name in ("demo_a", "demo_b") else ""),
        ) from exc
    extract(manifest, root)
    return load_features(cache, manifest.name, feature_set)


def _add_target_speakers(cache: Path, pair: Pair, target: FeatureTable) -> bool:
    """Give a pair saved by an older sercross its target speakers, leaving pair.npz (and so every run) valid."""
    speaker_of = {u.file: u.speaker for u in target.utterances}
    if not all(f in speaker_of for f in pair.target_files):
        return False
    pair.target_speakers = [speaker_of[f] for f in pair.target_files]
    write_target_speakers(pair.key.pair_dir(cache, pair.feature_set), pair.target_speakers, pair.target_files)
    return True


def add_target_scaling(cache: Path, pair: Pair, target: FeatureTable) -> bool:
    """Give a pair saved before its target scaling was kept that scaling (from the target's features), leaving
    pair.npz (and so every run) valid; False if the target's features no longer hold its files."""
    row = {u.file: i for i, u in enumerate(target.utterances)}
    if not all(f in row for f in pair.target_files):
        return False
    pair.target_scaling = minmax_params(target.X[[row[f] for f in pair.target_files]])
    write_target_scaling(pair.key.pair_dir(cache, pair.feature_set), pair.target_scaling, pair.target_files)
    return True


def _try_load(cache: Path, key: PairKey, feature_set: str) -> Pair | None:
    try:
        return load_pair(cache, key, feature_set=feature_set)
    except SercrossError:
        return None


def pair_for(
    cache: Path, source: FeatureTable, target: FeatureTable, classes: tuple[str, ...] | None = None,
    force: bool = False, on_replace: Callable[[Pair, Pair], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Pair:
    """The cached pair if it was built from these very features and class set, else a new one (saved).

    ``classes``: the class set in any order (None: the default set). Each class set has its own pair (its
    :class:`PairKey`), so several coexist. ``on_replace(old, new)`` is called when the default pair is rebuilt on
    another class set (the default set changed with the features: the old pair's runs go out of date).
    ``on_note(text)`` hears about a default pair folder of an older sercross holding a chosen class set, which is
    moved, with its runs, to that class set's own folders first.
    """
    wanted, is_default = pair_classes(source, target, classes)
    key = PairKey(source.corpus, target.corpus, None if is_default else wanted)
    _move_chosen_default(cache, source, target, on_note)
    old = _try_load(cache, key, source.feature_set)
    if (
        not force
        and old is not None
        and old.meta.get("source_features") == source.meta.get("fingerprint")
        and old.meta.get("target_features") == target.meta.get("fingerprint")
        and old.classes == wanted
    ):
        if old.target_speakers is not None or _add_target_speakers(cache, old, target):
            if old.target_scaling is None:
                add_target_scaling(cache, old, target)
            return old
    pair = build_pair(source, target, classes)
    save_pair(cache, pair)
    if on_replace is not None and old is not None and old.classes != pair.classes:
        on_replace(old, pair)
    return pair


def _move_chosen_default(cache: Path, source: FeatureTable, target: FeatureTable,
                         on_note: Callable[[str], None] | None) -> None:
    """Before class sets were part of a pair's identity, ``--classes`` replaced the default pair: such a pair (its
    meta.json has no ``class_set``) moves to its class set's own folder, with its runs, so both sets coexist."""
    key = PairKey(source.corpus, target.corpus)
    meta_path = key.pair_dir(cache, source.feature_set) / "meta.json"
    try:
        meta = read_json(meta_path) if meta_path.is_file() else None
    except ValueError:
        return
    if meta is None or "class_set" in meta or set(meta.get("classes", ())) == set(pair_classes(source, target)[0]):
        return
    old = _try_load(cache, key, source.feature_set)
    moved = move_aside(cache, old) if old is not None else None
    if on_note is not None and moved is not None:
        on_note(f"the cached pair {key.scheme} held the classes {', '.join(old.classes)} (chosen with an older "
                f"sercross); it and its runs were moved to the folders {moved}, beside the default pair")


def move_aside(cache: Path, old: Pair) -> str | None:
    """Move a pair stored in its default folder although its classes were chosen (sercross before class sets were
    part of a pair's identity) to its class set's folder, with the runs trained on it. Returns that folder name, or
    None if it is taken (the old pair is then left to be rebuilt over)."""
    key = PairKey(old.source, old.target, old.classes)
    src, dst = PairKey(old.source, old.target).pair_dir(cache, old.feature_set), key.pair_dir(cache, old.feature_set)
    if dst.exists():
        return None
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    meta = dict(read_json(dst / "meta.json"), class_set="chosen")
    atomic_write_json(dst / "meta.json", meta)
    runs = cache / "runs" / PairKey(old.source, old.target).dirname
    for config in sorted(runs.glob("*/*/config.json")):
        try:
            belongs = read_json(config).get("pair_fingerprint") == old.meta.get("fingerprint")
        except ValueError:
            continue
        run = config.parent
        target = cache / "runs" / key.dirname / run.parent.name / run.name
        if belongs and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(run, target)
    return key.dirname
