"""Class sets as a user names them: canonical emotion names or a corpus's own labels, in any case and order.

``anger,FEAR,sadness``, ``Fear,Anger,Sadness`` and (for EmoDB, whose labels are German initials) ``W,A,T`` name
the same class set. A name that is neither is refused with the closest known one; a class named twice (also
under two spellings, ``anger,angry``) is refused, as is a native label that two corpora map to different classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sercross.corpora import CANONICAL_EMOTIONS
from sercross.infra import SercrossError, did_you_mean


def native_labels(source) -> dict[str, str]:
    """A corpus's own labels -> canonical classes, from its manifest (``[emotions]``, csv kind: the canonical
    names too) or from a feature table (the labels its utterances carry)."""
    emotions = getattr(source, "emotions", None)
    if isinstance(emotions, Mapping):  # a Manifest
        table = dict(emotions)
        if getattr(source, "kind", "rules") == "csv":
            table = {**{e: e for e in CANONICAL_EMOTIONS}, **table}
        return table
    utterances = getattr(source, "utterances", None) or []  # a FeatureTable
    return {u.native: u.emotion for u in utterances if u.native and u.emotion}


def split_names(text: str | Iterable[str]) -> list[str]:
    """``"anger, fear"`` or ``["anger", "fear"]`` -> ``["anger", "fear"]`` (names as written, blanks dropped)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return [str(item).strip() for item in items if str(item).strip()]


def resolve_classes(names: Sequence[str], corpora: Mapping[str, Mapping[str, str]] | None = None,
                    what: str = "--classes") -> tuple[str, ...]:
    """The canonical classes ``names`` stand for, in the order given.

    ``corpora``: each corpus's own labels (``{corpus: {native: canonical}}``, e.g. from :func:`native_labels`);
    a name that is not canonical is looked up there, ignoring case. ``what`` names the setting in messages.
    """
    names = split_names(names)
    if not names:
        raise SercrossError(f"{what} names no class",
                            hint="leave it out for the default set, or name the classes, e.g. anger,fear,sadness")
    corpora = corpora or {}
    canonical = {c.lower(): c for c in CANONICAL_EMOTIONS}
    resolved = [canonical.get(name.lower()) or _native(name, corpora, what) for name in names]
    spelled: dict[str, list[str]] = {}
    for name, cls in zip(names, resolved):
        spelled.setdefault(cls, []).append(name)
    repeated = {cls: ns for cls, ns in spelled.items() if len(ns) > 1}
    if repeated:
        shown = "; ".join(f"{cls} ({', '.join(ns)})" if len({n.lower() for n in ns}) > 1 else cls
                          for cls, ns in repeated.items())
        raise SercrossError(f"{what} names {shown} more than once",
                            hint="name each class once, e.g. anger,fear,sadness")
    return tuple(resolved)


def _native(name: str, corpora: Mapping[str, Mapping[str, str]], what: str) -> str:
    """The canonical class of a corpus's own label ``name`` (ignoring case), or a clear error."""
    found: dict[str, list[str]] = {}
    for corpus, table in corpora.items():
        for native, cls in table.items():
            if native.lower() == name.lower():
                found.setdefault(cls, []).append(corpus)
    if len(found) == 1:
        return next(iter(found))
    if found:
        shown = "; ".join(f"{', '.join(cs)}: {cls}" for cls, cs in found.items())
        raise SercrossError(f"{what}: {name!r} means different classes in different corpora ({shown})",
                            hint=f"use the canonical name: {', '.join(CANONICAL_EMOTIONS)}")
    natives = sorted({n for table in corpora.values() for n in table} - set(CANONICAL_EMOTIONS))
    choices = list(CANONICAL_EMOTIONS) + natives
    also = f"; or a corpus's own label: {', '.join(natives)}" if natives else ""
    raise SercrossError(f"{what}: unknown class {name!r}{did_you_mean(name, choices)}",
                        hint=f"choose among: {', '.join(CANONICAL_EMOTIONS)}{also}")
