"""Several labelled source corpora at once: their names, their union, and leave-one-corpus-out schemes.

A multi-source scheme is written ``berlin+casia+ravdess→emovo`` (sources sorted, so one union has one name and one
folder, ``berlin+casia+ravdess__emovo``). Its source side is the union of the sources' utterances of the pair's
classes, each source min-max scaled on its own (per-corpus normalisation, as a single source is), then stacked.
Every utterance keeps its corpus (``Pair.source_corpora``) and its speaker, prefixed by its corpus
(``berlin/03``), so speakers of different corpora never merge (PCA+SVM's speaker-grouped folds, speaker
normalisation). Default classes: those the target and **every** source share. Methods see the union as one
source domain: the adaptation terms (MMD, LMMD, CORAL, DANN) compare the union with the target, and a batch
mixes the sources in proportion to their sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sercross.features import FeatureTable
from sercross.infra import SercrossError

SOURCE_JOINER = "+"
SPEAKER_SEPARATOR = "/"


def split_sources(name: str) -> tuple[str, ...]:
    """``"berlin+casia"`` -> ``("berlin", "casia")`` (as written); a single corpus -> a one-tuple."""
    parts = tuple(p.strip() for p in str(name).split(SOURCE_JOINER))
    if not all(parts):
        raise SercrossError(f"cannot read source {name!r}", hint="write several sources as a+b+c, e.g. berlin+casia")
    if len(set(parts)) != len(parts):
        raise SercrossError(f"source {name!r} names a corpus twice", hint="name each source corpus once")
    return parts


def join_sources(names: Sequence[str]) -> str:
    """The one spelling of a union of sources: canonical names, sorted, joined by ``+``."""
    return SOURCE_JOINER.join(sorted(names))


def is_multi(name: str) -> bool:
    return SOURCE_JOINER in str(name)


def loco_schemes(corpora: Sequence[str]) -> list[tuple[str, str]]:
    """Leave-one-corpus-out: for each corpus, ``(the union of the others, it)``."""
    corpora = list(dict.fromkeys(corpora))
    if len(corpora) < 3:
        raise SercrossError(f"leave-one-corpus-out needs at least three corpora, got {len(corpora)}",
                            hint="give --loco a,b,c (each held out in turn, trained on the others)")
    return [(join_sources([c for c in corpora if c != held]), held) for held in corpora]


def as_sources(source: FeatureTable | Sequence[FeatureTable]) -> list[FeatureTable]:
    """The source tables, sorted by corpus name (a single table: a list of one)."""
    tables = [source] if isinstance(source, FeatureTable) else sorted(source, key=lambda t: t.corpus)
    if not tables:
        raise SercrossError("no source corpus", hint="give --source NAME (or a+b+c)")
    if len({t.corpus for t in tables}) != len(tables):
        raise SercrossError("a source corpus is named twice", hint="name each source corpus once")
    return tables


def source_name(tables: Sequence[FeatureTable]) -> str:
    return tables[0].corpus if len(tables) == 1 else join_sources([t.corpus for t in tables])


def source_fingerprint(tables: Sequence[FeatureTable]):
    """What pair meta.json records of the source features: one fingerprint, or one per source corpus."""
    if len(tables) == 1:
        return tables[0].meta.get("fingerprint")
    return {t.corpus: t.meta.get("fingerprint") for t in tables}


def source_block(tables: Sequence[FeatureTable], classes: Sequence[str], scale) -> dict:
    """The pair's source side on ``classes``: each corpus scaled on its own (``scale``), then stacked.

    A single source gives exactly what a one-corpus pair always had (unprefixed speakers, no corpus column).
    """
    lookup = {c: k for k, c in enumerate(classes)}
    multi = len(tables) > 1
    Xs, ys, files, speakers, corpora, counts = [], [], [], [], [], {}
    for t in tables:
        sel = [i for i, e in enumerate(t.emotions) if e in lookup]
        Xs.append(scale(t.X[sel]))
        ys += [lookup[t.emotions[i]] for i in sel]
        files += [t.utterances[i].file for i in sel]
        speakers += [(f"{t.corpus}{SPEAKER_SEPARATOR}" if multi else "") + t.utterances[i].speaker for i in sel]
        corpora += [t.corpus] * len(sel)
        counts[t.corpus] = len(sel)
    return {"Xs": Xs[0] if not multi else np.concatenate(Xs), "ys": np.array(ys, dtype=np.int64),
            "source_files": files, "source_speakers": speakers, "source_corpora": corpora if multi else None,
            "counts": counts}
