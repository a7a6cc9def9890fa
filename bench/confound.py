"""Derive a speaker-confounded variant of a corpus already in the cache (development data for label-free selection).

In natural-speech corpora a speaker is often recorded in one situation and shows one or two emotions only; then
standardising within a speaker removes the emotion itself. The acted development corpora have every speaker in
every emotion. This script keeps, for each speaker, the utterances of ``k`` emotions only, so that the case is part
of development rather than a surprise. No audio is touched: the variant is a subset of the cached feature table,
written as a corpus of its own (``<corpus>_conf<k>``) that every command accepts by name.

Recipe (deterministic, uses the corpus's labels, never a target's): the emotions are the corpus's classes that
occur in at least one other corpus given with ``--others`` (so every kept utterance can enter a pair), in
canonical order; speakers are put in a random order (numpy seed 0); the j-th speaker keeps the emotions
``classes[(j + i * s_j) % C]`` for i < k with the step ``s_j = 1 + (j // C) % (C - 1)``, so speakers cover the
classes round-robin, every class keeps about ``k * speakers / C`` speakers, and no two emotions always come
together.

    python bench/confound.py --cache CACHE --corpus ravdess --k 1 --others berlin,casia,emovo
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sercross.corpora import CANONICAL_EMOTIONS
from sercross.features import load_features, write_derived_table
from sercross.infra import features_dir


def confound_plan(speakers: list[str], classes: list[str], k: int, seed: int = 0) -> dict[str, tuple[str, ...]]:
    """Speaker -> the emotions it keeps."""
    order = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    c = len(classes)
    # The step between a speaker's emotions grows with each round over the classes, so that no two emotions
    # always come together (with a fixed step, k = 2 over 6 classes would pair the same emotions every time).
    return {spk: tuple(classes[(j + i * (1 + (j // c) % max(c - 1, 1))) % c] for i in range(k))
            for j, spk in enumerate(order)}


def shared_classes(table, others) -> list[str]:
    """The classes of ``table`` that occur in at least one of the tables ``others``, in canonical order."""
    shared = set().union(*(set(o.emotions) for o in others))
    return [e for e in CANONICAL_EMOTIONS if e in shared and e in set(table.emotions)]


def confound_rows(table, classes: list[str], k: int, seed: int = 0) -> tuple[dict[str, tuple[str, ...]], list[int]]:
    """The plan (speaker -> the emotions it keeps) and the rows of ``table`` it keeps."""
    plan = confound_plan(sorted({u.speaker for u in table.utterances}), classes, k, seed)
    return plan, [i for i, u in enumerate(table.utterances) if u.emotion in plan[u.speaker]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--k", type=int, default=1, help="emotions kept per speaker")
    ap.add_argument("--others", required=True, help="comma-separated corpora whose classes count as shared")
    ap.add_argument("--features", default="IS10")
    args = ap.parse_args()
    table = load_features(args.cache, args.corpus, args.features)
    classes = shared_classes(table, [load_features(args.cache, o.strip(), args.features)
                                     for o in args.others.split(",")])
    plan, keep = confound_rows(table, classes, args.k)
    name = f"{table.corpus}_conf{args.k}"
    recipe = {"derived_from": table.corpus, "source_fingerprint": table.meta.get("fingerprint"),
              "recipe": f"bench/confound.py --k {args.k} --others {args.others}",
              "kept_emotions": {s: list(e) for s, e in sorted(plan.items())}}
    write_derived_table(args.cache, name, table, keep, recipe)
    counts = {c: sum(1 for i in keep if table.utterances[i].emotion == c) for c in classes}
    per_class = {c: sorted(s for s, e in plan.items() if c in e) for c in classes}
    print(f"{name}: {len(keep)} of {len(table.utterances)} utterances, {len(plan)} speakers, k={args.k}")
    for c in classes:
        print(f"  {c:10s} {counts[c]:4d} utterances from {len(per_class[c])} speaker(s): {', '.join(per_class[c])}")
    print(f"written to {features_dir(args.cache, name, args.features)}")


if __name__ == "__main__":
    main()
