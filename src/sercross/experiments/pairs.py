"""A cross-corpus pair: the two corpora restricted to shared classes, each min-max scaled on its own.

Scaling choice: each corpus is scaled to [0, 1] with its own per-feature minimum and maximum, computed on
that corpus's utterances of the selected classes. For the target this uses its (unlabelled) features only;
which target utterances enter is fixed by the scheme's class set, as in the paper's Table 2. Columns that
are constant within a corpus become 0.

The *target set* says which target utterances the methods see (docs/protocol.md, "Which labels choose which
utterances"): ``shared`` (the paper's closed-set protocol, the default) keeps the target utterances of the
shared classes, a choice made with the target labels; ``all`` feeds every target utterance, whatever its label,
to scaling, speaker statistics, adaptation batches and AdaBN, and uses the target labels only to pick the
utterances that are scored (those of the shared classes). It is part of the pair's :class:`PairKey`; a pair of
target set ``all`` lives in its own folder (``source__target@all``), so both coexist.

The source may be several corpora (``a+b+c``, :mod:`.sources`): their union, each scaled on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.corpora import CANONICAL_EMOTIONS
from sercross.experiments.keys import TARGET_SETS, PairKey
from sercross.experiments.scaling import minmax_params, minmax_scale, speaker_normalize
from sercross.experiments.sources import as_sources, source_block, source_fingerprint, source_name
from sercross.features import DEFAULT_FEATURE_SET, FeatureTable
from sercross.infra import (
    SercrossError,
    atomic_write_json,
    atomic_write_npz,
    check_meta,
    read_json,
    sha1_bytes,
    sha1_file,
)
from sercross.methods import INPUT_NORMS

# The paper's Table 2: class sets of its three corpus pairs.
PAPER_CLASSES: dict[frozenset, tuple[str, ...]] = {
    frozenset({"berlin", "enterface"}): ("anger", "sadness", "fear", "happiness", "disgust"),
    frozenset({"enterface", "casia"}): ("anger", "sadness", "fear", "happiness", "surprise"),
    frozenset({"berlin", "casia"}): ("anger", "sadness", "fear", "happiness", "neutral"),
}
MIN_CLASSES = 2


@dataclass
class Pair:
    source: str
    target: str
    feature_set: str
    classes: tuple[str, ...]
    Xs: np.ndarray
    ys: np.ndarray
    Xt: np.ndarray
    yt: np.ndarray  # used only to score
    source_files: list[str]
    target_files: list[str]
    source_speakers: list[str]
    meta: dict
    # None for a pair saved before target speakers were kept (``pair_for`` adds them without touching pair.npz).
    target_speakers: list[str] | None = None
    # (minimum, maximum) of each raw target feature: new recordings of the target are scaled as its utterances
    # were (``sercross predict``). None for a pair saved before it was kept (``pair_for`` adds it).
    target_scaling: tuple[np.ndarray, np.ndarray] | None = None
    target_set: str = "shared"
    # Target set "all": every target utterance (scaled together, the rows the methods train on) and its speakers;
    # Xt, yt, target_files and target_speakers are then its rows ``scored_rows`` (the shared classes), which score.
    Xu: np.ndarray | None = None
    unlabelled_speakers: list[str] | None = None
    scored_rows: np.ndarray | None = None
    # Several sources (``source`` is ``a+b+c``): each source utterance's corpus; None for a single source.
    source_corpora: list[str] | None = None

    @property
    def key(self) -> PairKey:
        """Its identity; pairs saved before class sets were part of it hold the default set (their folder's)."""
        default = self.meta.get("class_set", "default") == "default"
        return PairKey(self.source, self.target, None if default else self.classes, self.target_set)

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def variant(self) -> str:
        """The folder suffix of the pair's target set (``@all``; empty for the default)."""
        return self.key.variant

    @property
    def labelled(self) -> bool:
        """Whether the target has labels (to score); an unlabelled target's runs report predictions only."""
        return bool(self.meta.get("target_labelled", True))


def default_classes(source: FeatureTable | Sequence[FeatureTable], target: FeatureTable) -> tuple[str, ...]:
    """The paper's Table 2 set for its pairs, else the classes the target and every source share; for an unlabelled
    target, those every source has."""
    sources = as_sources(source)
    paper = PAPER_CLASSES.get(frozenset({sources[0].corpus, target.corpus})) if len(sources) == 1 else None
    if paper is not None and sources[0].corpus != target.corpus:
        return paper
    shared = set(sources[0].emotions)
    for t in sources[1:] + ([target] if target.labelled else []):
        shared &= set(t.emotions)
    shared -= {""}
    return tuple(e for e in CANONICAL_EMOTIONS if e in shared) + tuple(sorted(shared - set(CANONICAL_EMOTIONS)))


def model_inputs(pair: Pair, input_norm: str = "corpus") -> tuple[np.ndarray, np.ndarray]:
    """The source and scored target features a method sees: the pair's own (per-corpus scaling) or
    speaker-normalised."""
    Xs, _, Xt = pair_inputs(pair, input_norm)
    return Xs, Xt


def pair_inputs(pair: Pair, input_norm: str = "corpus") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(Xs, Xu, Xt)``: the source, the unlabelled target a method trains on, and the target it is scored on.

    With target set ``shared`` the last two are the same array; with ``all``, ``Xu`` holds every target utterance
    and ``Xt`` its rows of the shared classes (speaker statistics computed over all of ``Xu``).
    """
    if input_norm not in INPUT_NORMS:
        raise SercrossError(f"unknown input normalisation {input_norm!r}", hint=f"use one of {', '.join(INPUT_NORMS)}")
    whole = pair.Xu is not None
    if input_norm == "corpus":
        return pair.Xs, (pair.Xu if whole else pair.Xt), pair.Xt
    if pair.target_speakers is None:
        raise SercrossError(
            f"pair {pair.name} was saved without its target speakers (an older sercross)",
            hint=f"run `{pair_command(pair.key, pair.feature_set)}` again",
        )
    Xs = speaker_normalize(pair.Xs, pair.source_speakers)
    if not whole:
        Xt = speaker_normalize(pair.Xt, pair.target_speakers)
        return Xs, Xt, Xt
    Xu = speaker_normalize(pair.Xu, pair.unlabelled_speakers)
    return Xs, Xu, Xu[pair.scored_rows]


def check_target_set(target_set: str) -> str:
    if target_set not in TARGET_SETS:
        raise SercrossError(f"unknown target set {target_set!r}", hint=f"use one of {', '.join(TARGET_SETS)}")
    return target_set


def pair_classes(source: FeatureTable | Sequence[FeatureTable], target: FeatureTable,
                 classes=None) -> tuple[tuple[str, ...], bool]:
    """The classes of the pair of ``source`` and ``target`` on the class set ``classes`` (any order; None: the
    default set), in the order of the model's outputs, and whether they are the default set.

    The default set keeps its order (the paper's Table 2 order for its pairs); another set is sorted, so that a
    class set means one pair whatever the order it was given in.
    """
    default = default_classes(source, target)
    if not classes or set(classes) == set(default):
        return default, True
    return tuple(sorted(classes)), False


def build_pair(source: FeatureTable | Sequence[FeatureTable], target: FeatureTable,
               classes: tuple[str, ...] | None = None, target_set: str = "shared") -> Pair:
    """The pair of ``source`` (one table, or several: their union, :mod:`.sources`) and ``target`` on the class set
    ``classes`` (default: :func:`default_classes`), each corpus min-max scaled on its own selected utterances
    (target set ``all``: the target on all of its utterances)."""
    check_target_set(target_set)
    sources = as_sources(source)
    wanted, is_default = pair_classes(sources, target, classes)
    classes = _pair_classes(sources, target, wanted, chosen=bool(classes))
    labelled = target.labelled
    block = source_block(sources, classes, minmax_scale)
    # An unlabelled target enters whole (nothing says which of its utterances belong to the class set).
    sel_t = [i for i, e in enumerate(target.emotions) if e in classes] if labelled else list(range(len(target.X)))
    lookup = {c: k for k, c in enumerate(classes)}
    meta = {
        "cache_version": CACHE_VERSION,
        "sercross_version": __version__,
        "source": source_name(sources),
        "target": target.corpus,
        "feature_set": target.feature_set,
        "classes": list(classes),
        "class_set": "default" if is_default else "chosen",
        "n_source": len(block["ys"]),
        "n_target": len(sel_t),
        "source_features": source_fingerprint(sources),
        "target_features": target.meta.get("fingerprint"),
        "scaling": "min-max to [0,1] per corpus, fitted on that corpus's selected utterances",
        "target_labelled": labelled,
    }
    if len(sources) > 1:
        meta.update(sources=[t.corpus for t in sources], n_source_per_corpus=block["counts"],
                    source_normalisation="min-max per source corpus, then stacked; speakers prefixed by corpus")
    Xt, extra = _scaled_target(target, sel_t, target_set, meta)
    return Pair(
        source=source_name(sources),
        target=target.corpus,
        feature_set=target.feature_set,
        classes=classes,
        Xs=block["Xs"],
        ys=block["ys"],
        Xt=Xt,
        yt=np.array([lookup[target.emotions[i]] if labelled else -1 for i in sel_t], dtype=np.int64),
        source_files=block["source_files"],
        target_files=[target.utterances[i].file for i in sel_t],
        source_speakers=block["source_speakers"],
        meta=meta,
        target_speakers=[target.utterances[i].speaker for i in sel_t],
        source_corpora=block["source_corpora"],
        **extra,
    )


def _scaled_target(target: FeatureTable, sel_t: list[int], target_set: str, meta: dict) -> tuple[np.ndarray, dict]:
    """The scored target rows ``sel_t``, min-max scaled, and the Pair fields of the target set (``meta`` updated):
    target set ``all`` scales on every target utterance and keeps them all as the unlabelled target."""
    if target_set != "all":
        return minmax_scale(target.X[sel_t]), {"target_scaling": minmax_params(target.X[sel_t])}
    Xu = minmax_scale(target.X)
    meta.update(target_set="all", n_target_unlabelled=len(target.X),
                scaling="min-max to [0,1] per corpus, fitted on the source's selected utterances and on "
                "every target utterance")
    extra = dict(target_set="all", Xu=Xu, unlabelled_speakers=[u.speaker for u in target.utterances],
                 scored_rows=np.array(sel_t, dtype=np.int64), target_scaling=minmax_params(target.X))
    return Xu[sel_t], extra


def _pair_classes(sources: list[FeatureTable], target: FeatureTable, classes: tuple[str, ...],
                  chosen: bool) -> tuple[str, ...]:
    """The classes of the pair, after checking that the tables can be paired on them."""
    for other in sources:
        if other.feature_set != target.feature_set:
            raise SercrossError(
                f"{other.corpus} has {other.feature_set} features but {target.corpus} has {target.feature_set}",
                hint="extract both corpora with the same --features",
            )
    versions = {t.meta.get("opensmile_version") for t in (*sources, target)} - {None}
    if len(versions) > 1:
        names = " and ".join(t.corpus for t in (*sources, target))
        raise SercrossError(
            f"{names} were extracted with different opensmile versions ({', '.join(sorted(versions))})",
            hint="re-run `sercross extract` on both corpora with the same installation",
        )
    if target.corpus in {t.corpus for t in sources}:
        raise SercrossError("source and target are the same corpus", hint="choose two different corpora")
    for source in sources:
        if not source.labelled:
            raise SercrossError(f"the source corpus {source.corpus!r} has no labels",
                                hint="a source must be labelled; an unlabelled corpus can only be a target")
    shared = set(target.emotions) - {""}
    for source in sources:
        shared &= set(source.emotions)
    shared = sorted(shared)
    for table in (*sources, target) if target.labelled else sources:
        missing = [c for c in classes if c not in set(table.emotions)]
        if missing:
            raise SercrossError(
                f"corpus {table.corpus!r} has no utterance of class(es) {', '.join(missing)}",
                hint=f"{table.corpus} has: {', '.join(sorted(set(table.emotions) - {''}))}; choose --classes among "
                f"the classes both corpora share: {', '.join(shared) or 'none'}",
            )
    if len(classes) < MIN_CLASSES:
        what = (f"--classes {','.join(classes)} selects fewer than {MIN_CLASSES} classes" if chosen else
                f"{source_name(sources)} and {target.corpus} share fewer than {MIN_CLASSES} classes "
                f"({', '.join(classes)})")
        raise SercrossError(what, hint="a cross-corpus experiment needs at least two shared emotions")
    return classes


def save_pair(cache: Path, pair: Pair) -> Path:
    out = pair.key.pair_dir(cache, pair.feature_set)
    # A one-source pair of the default target set is written exactly as before (same fingerprint).
    added = {} if pair.Xu is None else dict(Xu=pair.Xu, unlabelled_speakers=np.array(pair.unlabelled_speakers),
                                            scored_rows=pair.scored_rows)
    if pair.source_corpora is not None:
        added["source_corpora"] = np.array(pair.source_corpora)
    atomic_write_npz(
        out / "pair.npz",
        Xs=pair.Xs, ys=pair.ys, Xt=pair.Xt, yt=pair.yt,
        source_files=np.array(pair.source_files), target_files=np.array(pair.target_files),
        source_speakers=np.array(pair.source_speakers), **added,
    )
    if pair.target_speakers is not None:
        write_target_speakers(out, pair.target_speakers, pair.target_files)
    if pair.target_scaling is not None:
        write_target_scaling(out, pair.target_scaling, pair.target_files)
    meta = dict(pair.meta, fingerprint=sha1_file(out / "pair.npz"))
    atomic_write_json(out / "meta.json", meta)
    pair.meta = meta
    return out


def stored_key(cache: Path, source: str, target: str, feature_set: str, classes=None,
               target_set: str = "shared") -> PairKey:
    """The key of the pair of ``source`` and ``target`` on the class set ``classes`` (any order; None: the default
    set) and ``target_set``, without loading the corpora: the default class set when the set is the paper's or the
    cached default pair's."""
    default = PairKey(source, target, None, check_target_set(target_set))
    if not classes:
        return default
    wanted = set(classes)
    if source != target and set(PAPER_CLASSES.get(frozenset({source, target}), ())) == wanted:
        return default
    meta_path = default.pair_dir(cache, feature_set) / "meta.json"
    try:
        if meta_path.is_file() and set(read_json(meta_path).get("classes", ())) == wanted:
            return default
    except ValueError:  # a damaged meta.json: load_pair says so when that pair is asked for
        pass
    return PairKey(source, target, tuple(classes), target_set)


def pair_command(key: PairKey, feature_set: str, command: str = "pair") -> str:
    """The ``sercross`` command that builds (or, with ``command``, trains on) the pair of ``key``."""
    cmd = f"sercross {command} --source {key.source} --target {key.target}"
    if key.classes is not None:
        cmd += f" --classes {','.join(key.classes)}"
    if key.target_set != "shared":
        cmd += f" --target-set {key.target_set}"
    return cmd + ("" if feature_set == DEFAULT_FEATURE_SET else f" --features {feature_set}")


def load_pair(cache: Path, source: str | PairKey, target: str | None = None, feature_set: str = DEFAULT_FEATURE_SET,
              classes=None, target_set: str = "shared") -> Pair:
    """The cached pair of ``source`` and ``target`` on the class set ``classes`` (None: the default set) and
    ``target_set``, or of the :class:`PairKey` given as ``source``."""
    key = (source if isinstance(source, PairKey)
           else stored_key(cache, source, target, feature_set, classes, target_set))
    out = key.pair_dir(cache, feature_set)
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        raise SercrossError(f"no pair {key.name} ({feature_set}) in cache {cache}",
                            hint=f"run `{pair_command(key, feature_set)}` first")
    meta = read_json(meta_path)
    check_meta(meta, meta_path, f"pair {key.name}", feature_set=feature_set)
    if meta.get("target_set", "shared") != key.target_set:
        raise SercrossError(f"{meta_path} is a pair of target set {meta.get('target_set', 'shared')}, "
                            f"not {key.target_set}", hint=f"run `{pair_command(key, feature_set)}` again")
    if meta.get("fingerprint") != sha1_file(out / "pair.npz"):
        raise SercrossError(
            f"{out / 'pair.npz'} does not match its meta.json (an interrupted write?)",
            hint=f"run `{pair_command(key, feature_set)}` again",
        )
    source, target = key.source, key.target
    with np.load(out / "pair.npz", allow_pickle=False) as z:
        pair = Pair(
            source, target, feature_set, tuple(meta["classes"]),
            z["Xs"], z["ys"], z["Xt"], z["yt"],
            [str(s) for s in z["source_files"]], [str(s) for s in z["target_files"]],
            [str(s) for s in z["source_speakers"]], meta,
        )
        if "source_corpora" in z.files:
            pair.source_corpora = [str(c) for c in z["source_corpora"]]
        if key.target_set == "all":
            pair.target_set, pair.Xu, pair.scored_rows = "all", z["Xu"], z["scored_rows"]
            pair.unlabelled_speakers = [str(s) for s in z["unlabelled_speakers"]]
    speakers_path = out / SPEAKERS_FILE
    if speakers_path.is_file():
        doc = read_json(speakers_path)
        if doc.get("target_files") == pair.target_files:
            pair.target_speakers = [str(s) for s in doc["target_speakers"]]
    pair.target_scaling = read_target_scaling(out, pair.target_files)
    return pair


# Target speakers live beside pair.npz rather than in it: pairs saved before they were kept gain them
# without a new pair.npz, whose fingerprint every finished run refers to.
SPEAKERS_FILE = "target_speakers.json"


def write_target_speakers(out: Path, speakers: list[str], files: list[str]) -> None:
    """Store the target speakers of the pair in ``out`` with the target files they belong to (checked on load)."""
    atomic_write_json(out / SPEAKERS_FILE, {"target_files": list(files), "target_speakers": list(speakers)})



# The raw target's per-feature minimum and maximum, beside pair.npz (as the target speakers): with them new
# recordings of the target are scaled as its utterances were. Pairs saved before it was kept gain it from the
# target's features (``pair_for``), without a new pair.npz.
SCALING_FILE = "target_scaling.npz"


def write_target_scaling(out: Path, scaling: tuple[np.ndarray, np.ndarray], files: list[str]) -> None:
    atomic_write_npz(out / SCALING_FILE, minimum=scaling[0], maximum=scaling[1],
                     files_sha1=np.array(sha1_bytes("\n".join(files).encode())))


def read_target_scaling(out: Path, files: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """The stored target scaling if it belongs to these target files, else None."""
    path = out / SCALING_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        if str(z["files_sha1"]) != sha1_bytes("\n".join(files).encode()):
            return None
        return z["minimum"], z["maximum"]
