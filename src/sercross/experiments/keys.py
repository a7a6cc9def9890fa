"""Which pair a pair folder or run folder belongs to: source, target and class set, as one small value.

A pair is identified by its corpora and its class set. The *default* class set of two corpora (the paper's
Table 2 set for its pairs, else the classes both share, :func:`sercross.experiments.pairs.default_classes`) keeps
the folder name sercross always used, ``source__target``, so that every pair and run made before class sets were
part of the identity stays valid. Any other class set gets its own folder, ``source__target~anger+fear+sadness``
(classes sorted: their order does not matter), so several class sets of one pair coexist in one cache.

The *target set* (:data:`TARGET_SETS`, docs/protocol.md) is part of the identity too: ``shared`` (the paper's, the
default) keeps these names; ``all`` (every target utterance fed unlabelled) appends ``@all``
(``source__target~anger+fear@all``). The source may be several corpora, ``a+b+c`` (sorted: one union, one name).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sercross.experiments.schemes import scheme_key, scheme_label
from sercross.infra import SercrossError, pair_dir, run_dir, scheme_name

CLASS_SEPARATOR = "~"  # between the scheme and the class set in a folder name
CLASS_JOINER = "+"  # between classes
TARGET_SETS = ("shared", "all")
# The folder suffix of a pair (and its runs) per target set: the default adds nothing.
TARGET_SET_SUFFIX = {"shared": "", "all": "@all"}


@dataclass(frozen=True)
class PairKey:
    """A pair's identity: ``classes`` is None for the pair's default class set, else the set (kept sorted);
    ``target_set``: which target utterances the methods see (``shared`` or ``all``)."""

    source: str
    target: str
    classes: tuple[str, ...] | None = None
    target_set: str = "shared"

    def __post_init__(self) -> None:
        if self.target_set not in TARGET_SETS:
            raise SercrossError(f"unknown target set {self.target_set!r}", hint=f"use one of {', '.join(TARGET_SETS)}")
        if self.classes is not None:
            classes = tuple(sorted(self.classes))
            if len(set(classes)) != len(classes) or not classes:
                raise SercrossError(f"a class set names each class once, got {', '.join(self.classes) or 'none'}")
            object.__setattr__(self, "classes", classes)

    @property
    def default(self) -> bool:
        return self.classes is None

    @property
    def scheme(self) -> str:
        """``source→target``, the scheme's one spelling (without the class set)."""
        return scheme_key(self.source, self.target)

    @property
    def class_suffix(self) -> str:
        return "" if self.classes is None else CLASS_SEPARATOR + CLASS_JOINER.join(self.classes)

    @property
    def variant(self) -> str:
        """The folder suffix of the target set: empty for the default (``shared``), ``@all`` for ``all``."""
        return TARGET_SET_SUFFIX[self.target_set]

    @property
    def dirname(self) -> str:
        """The folder name under ``<cache>/pairs/`` and ``<cache>/runs/``."""
        return scheme_name(self.source, self.target) + self.class_suffix + self.variant

    def with_target_set(self, target_set: str) -> PairKey:
        return replace(self, target_set=target_set)

    @property
    def qualifier(self) -> str:
        """What :attr:`name` and :attr:`label` add to the scheme: the class set and the target set when they are
        not the default (``" (anger+fear) (target set all)"``)."""
        return (("" if self.classes is None else f" ({CLASS_JOINER.join(self.classes)})")
                + ("" if self.target_set == "shared" else f" (target set {self.target_set})"))

    @property
    def name(self) -> str:
        """The pair's id in results and tables: the scheme, with the class set and target set when not the default."""
        return self.scheme + self.qualifier

    @property
    def label(self) -> str:
        """Like :attr:`name` with the paper's short corpus names (``B→C``)."""
        return scheme_label(self.source, self.target) + self.qualifier

    def pair_dir(self, cache: Path, feature_set: str) -> Path:
        return pair_dir(Path(cache), self.dirname, feature_set)

    def run_dir(self, cache: Path, method: str, tag: str, seed: int) -> Path:
        return run_dir(Path(cache), self.dirname, method, tag, seed)

    @classmethod
    def from_dirname(cls, name: str) -> PairKey:
        """The key of a folder name written by :attr:`dirname`."""
        target_set = next((t for t, suffix in TARGET_SET_SUFFIX.items() if suffix and name.endswith(suffix)), "shared")
        name = name[:len(name) - len(TARGET_SET_SUFFIX[target_set])]
        scheme, sep, classes = name.partition(CLASS_SEPARATOR)
        source, dunder, target = scheme.partition("__")
        if not (source and dunder and target) or (sep and not classes):
            raise SercrossError(f"{name!r} is not a pair folder name (SOURCE__TARGET or SOURCE__TARGET~a+b+c, "
                                "optionally followed by @all)")
        return cls(source, target, tuple(classes.split(CLASS_JOINER)) if sep else None, target_set)


class Keyed:
    """``source``, ``target``, ``name`` and ``label`` of a dataclass's ``key`` (a :class:`PairKey`)."""

    key: PairKey

    @property
    def source(self) -> str:
        return self.key.source

    @property
    def target(self) -> str:
        return self.key.target

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def label(self) -> str:
        return self.key.label
