"""Glue between stages: reuse what the cache has, build what is missing, say exactly what cannot be built."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sercross.corpora import Manifest, load_manifest, resolve_root
from sercross.experiments.pairs import Pair, build_pair, default_classes, load_pair, save_pair, write_target_speakers
from sercross.experiments.sources import as_sources, source_fingerprint, source_name
from sercross.features import FeatureTable, load_features
from sercross.infra import SercrossError, features_dir, pair_dir


def corpus_name(name: str) -> str:
    """Canonical corpus id for a name or alias (``B`` -> ``berlin``)."""
    return load_manifest(name).name


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
            hint=f"run `sercross extract {manifest.name} --root PATH` (or set {manifest.env_var})",
        ) from exc
    extract(manifest, root)
    return load_features(cache, manifest.name, feature_set)


def _add_target_speakers(cache: Path, pair: Pair, target: FeatureTable) -> bool:
    """Give a pair saved by an older sercross its target speakers, leaving pair.npz (and so every run) valid."""
    speaker_of = {u.file: u.speaker for u in target.utterances}
    if not all(f in speaker_of for f in pair.target_files):
        return False
    pair.target_speakers = [speaker_of[f] for f in pair.target_files]
    write_target_speakers(pair_dir(cache, pair.source, pair.target, pair.feature_set, pair.variant),
                          pair.target_speakers, pair.target_files)
    return True


def pair_for(
    cache: Path, source: FeatureTable | Sequence[FeatureTable], target: FeatureTable,
    classes: tuple[str, ...] | None = None,
    force: bool = False, on_replace: Callable[[Pair, Pair], None] | None = None, target_set: str = "shared",
) -> Pair:
    """The cached pair if it was built from these very features, classes and target set, else a new one (saved).

    ``on_replace(old, new)`` is called when the new pair replaces a cached one of other classes: the cache keeps
    one class set per pair, so the old one's runs go out of date. ``source``: one table, or several (their union).
    """
    sources = as_sources(source)
    classes = tuple(classes) if classes else default_classes(sources, target)
    try:
        old = load_pair(cache, source_name(sources), target.corpus, target.feature_set, target_set)
    except SercrossError:
        old = None
    if (
        not force
        and old is not None
        and old.meta.get("source_features") == source_fingerprint(sources)
        and old.meta.get("target_features") == target.meta.get("fingerprint")
        and classes == old.classes
    ):
        if old.target_speakers is not None or _add_target_speakers(cache, old, target):
            return old
    pair = build_pair(sources, target, classes, target_set)
    save_pair(cache, pair)
    if on_replace is not None and old is not None and old.classes != pair.classes:
        on_replace(old, pair)
    return pair
