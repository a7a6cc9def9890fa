"""A cross-corpus pair: the two corpora restricted to shared classes, each min-max scaled on its own.

Scaling choice: each corpus is scaled to [0, 1] with its own per-feature minimum and maximum, computed on
that corpus's utterances of the selected classes. For the target this uses its (unlabelled) features only;
which target utterances enter is fixed by the scheme's class set, as in the paper's Table 2. Columns that
are constant within a corpus become 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.corpora import CANONICAL_EMOTIONS
from sercross.experiments.keys import PairKey
from sercross.experiments.scaling import minmax_params, minmax_scale, speaker_normalize
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

    @property
    def key(self) -> PairKey:
        """Its identity; pairs saved before class sets were part of it hold the default set (their folder's)."""
        default = self.meta.get("class_set", "default") == "default"
        return PairKey(self.source, self.target, None if default else self.classes)

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def labelled(self) -> bool:
        """Whether the target has labels (to score); an unlabelled target's runs report predictions only."""
        return bool(self.meta.get("target_labelled", True))


def default_classes(source: FeatureTable, target: FeatureTable) -> tuple[str, ...]:
    """The paper's Table 2 set for its pairs, else the classes both share; for an unlabelled target, the source's."""
    paper = PAPER_CLASSES.get(frozenset({source.corpus, target.corpus}))
    if paper is not None and source.corpus != target.corpus:
        return paper
    shared = (set(source.emotions) & set(target.emotions) if target.labelled else set(source.emotions)) - {""}
    return tuple(e for e in CANONICAL_EMOTIONS if e in shared) + tuple(sorted(shared - set(CANONICAL_EMOTIONS)))


def model_inputs(pair: Pair, input_norm: str = "corpus") -> tuple[np.ndarray, np.ndarray]:
    """The source and target features a method sees: the pair's own (per-corpus scaling) or speaker-normalised."""
    if input_norm == "corpus":
        return pair.Xs, pair.Xt
    if input_norm != "speaker":
        raise SercrossError(f"unknown input normalisation {input_norm!r}", hint=f"use one of {', '.join(INPUT_NORMS)}")
    if pair.target_speakers is None:
        raise SercrossError(
            f"pair {pair.name} was saved without its target speakers (an older sercross)",
            hint=f"run `{pair_command(pair.key, pair.feature_set)}` again",
        )
    return speaker_normalize(pair.Xs, pair.source_speakers), speaker_normalize(pair.Xt, pair.target_speakers)


def pair_classes(source: FeatureTable, target: FeatureTable, classes=None) -> tuple[tuple[str, ...], bool]:
    """The classes of the pair of ``source`` and ``target`` on the class set ``classes`` (any order; None: the
    default set), in the order of the model's outputs, and whether they are the default set.

    The default set keeps its order (the paper's Table 2 order for its pairs); another set is sorted, so that a
    class set means one pair whatever the order it was given in.
    """
    default = default_classes(source, target)
    if not classes or set(classes) == set(default):
        return default, True
    return tuple(sorted(classes)), False


def build_pair(source: FeatureTable, target: FeatureTable, classes: tuple[str, ...] | None = None) -> Pair:
    """The pair of ``source`` and ``target`` on the class set ``classes`` (default: :func:`default_classes`), each
    corpus min-max scaled on its own selected utterances."""
    wanted, is_default = pair_classes(source, target, classes)
    classes = _pair_classes(source, target, wanted, chosen=bool(classes))
    labelled = target.labelled
    sel_s = [i for i, e in enumerate(source.emotions) if e in classes]
    # An unlabelled target enters whole (nothing says which of its utterances belong to the class set).
    sel_t = [i for i, e in enumerate(target.emotions) if e in classes] if labelled else list(range(len(target.X)))
    lookup = {c: k for k, c in enumerate(classes)}
    meta = {
        "cache_version": CACHE_VERSION,
        "sercross_version": __version__,
        "source": source.corpus,
        "target": target.corpus,
        "feature_set": source.feature_set,
        "classes": list(classes),
        "class_set": "default" if is_default else "chosen",
        "n_source": len(sel_s),
        "n_target": len(sel_t),
        "source_features": source.meta.get("fingerprint"),
        "target_features": target.meta.get("fingerprint"),
        "scaling": "min-max to [0,1] per corpus, fitted on that corpus's selected utterances",
        "target_labelled": labelled,
    }
    return Pair(
        source=source.corpus,
        target=target.corpus,
        feature_set=source.feature_set,
        classes=classes,
        Xs=minmax_scale(source.X[sel_s]),
        ys=np.array([lookup[source.emotions[i]] for i in sel_s], dtype=np.int64),
        Xt=minmax_scale(target.X[sel_t]),
        yt=np.array([lookup[target.emotions[i]] if labelled else -1 for i in sel_t], dtype=np.int64),
        source_files=[source.utterances[i].file for i in sel_s],
        target_files=[target.utterances[i].file for i in sel_t],
        source_speakers=[source.utterances[i].speaker for i in sel_s],
        meta=meta,
        target_speakers=[target.utterances[i].speaker for i in sel_t],
        target_scaling=minmax_params(target.X[sel_t]),
    )


def _pair_classes(source: FeatureTable, target: FeatureTable, classes: tuple[str, ...],
                  chosen: bool) -> tuple[str, ...]:
    """The classes of the pair, after checking that the two tables can be paired on them."""
    if source.feature_set != target.feature_set:
        raise SercrossError(
            f"{source.corpus} has {source.feature_set} features but {target.corpus} has {target.feature_set}",
            hint="extract both corpora with the same --features",
        )
    versions = {t.meta.get("opensmile_version") for t in (source, target)} - {None}
    if len(versions) > 1:
        raise SercrossError(
            f"{source.corpus} and {target.corpus} were extracted with different opensmile versions "
            f"({', '.join(sorted(versions))})",
            hint="re-run `sercross extract` on both corpora with the same installation",
        )
    if source.corpus == target.corpus:
        raise SercrossError("source and target are the same corpus", hint="choose two different corpora")
    if not source.labelled:
        raise SercrossError(f"the source corpus {source.corpus!r} has no labels",
                            hint="a source must be labelled; an unlabelled corpus can only be a target")
    shared = sorted(set(source.emotions) & set(target.emotions) - {""})
    for table in (source, target) if target.labelled else (source,):
        missing = [c for c in classes if c not in set(table.emotions)]
        if missing:
            raise SercrossError(
                f"corpus {table.corpus!r} has no utterance of class(es) {', '.join(missing)}",
                hint=f"{table.corpus} has: {', '.join(sorted(set(table.emotions) - {''}))}; choose --classes among "
                f"the classes both corpora share: {', '.join(shared) or 'none'}",
            )
    if len(classes) < MIN_CLASSES:
        what = (f"--classes {','.join(classes)} selects fewer than {MIN_CLASSES} classes" if chosen else
                f"{source.corpus} and {target.corpus} share fewer than {MIN_CLASSES} classes ({', '.join(classes)})")
        raise SercrossError(what, hint="a cross-corpus experiment needs at least two shared emotions")
    return classes


def save_pair(cache: Path, pair: Pair) -> Path:
    out = pair.key.pair_dir(cache, pair.feature_set)
    atomic_write_npz(
        out / "pair.npz",
        Xs=pair.Xs, ys=pair.ys, Xt=pair.Xt, yt=pair.yt,
        source_files=np.array(pair.source_files), target_files=np.array(pair.target_files),
        source_speakers=np.array(pair.source_speakers),
    )
    if pair.target_speakers is not None:
        write_target_speakers(out, pair.target_speakers, pair.target_files)
    if pair.target_scaling is not None:
        write_target_scaling(out, pair.target_scaling, pair.target_files)
    meta = dict(pair.meta, fingerprint=sha1_file(out / "pair.npz"))
    atomic_write_json(out / "meta.json", meta)
    pair.meta = meta
    return out


def stored_key(cache: Path, source: str, target: str, feature_set: str, classes=None) -> PairKey:
    """The key of the pair of ``source`` and ``target`` on the class set ``classes`` (any order; None: the default
    set) without loading the corpora: the default key when the set is the paper's or the cached default pair's."""
    default = PairKey(source, target)
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
    return PairKey(source, target, tuple(classes))


def pair_command(key: PairKey, feature_set: str, command: str = "pair") -> str:
    """The ``sercross`` command that builds (or, with ``command``, trains on) the pair of ``key``."""
    cmd = f"sercross {command} --source {key.source} --target {key.target}"
    if key.classes is not None:
        cmd += f" --classes {','.join(key.classes)}"
    return cmd + ("" if feature_set == DEFAULT_FEATURE_SET else f" --features {feature_set}")


def load_pair(cache: Path, source: str | PairKey, target: str | None = None, feature_set: str = DEFAULT_FEATURE_SET,
              classes=None) -> Pair:
    """The cached pair of ``source`` and ``target`` on the class set ``classes`` (None: the default set), or of the
    :class:`PairKey` given as ``source``."""
    key = source if isinstance(source, PairKey) else stored_key(cache, source, target, feature_set, classes)
    out = key.pair_dir(cache, feature_set)
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        raise SercrossError(f"no pair {key.name} ({feature_set}) in cache {cache}",
                            hint=f"run `{pair_command(key, feature_set)}` first")
    meta = read_json(meta_path)
    check_meta(meta, meta_path, f"pair {key.name}", feature_set=feature_set)
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
