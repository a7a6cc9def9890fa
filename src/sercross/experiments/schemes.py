"""Schemes (source → target pairs of corpora): their one spelling, the paper's six, and their labels in tables.

A scheme is written ``source→target`` wherever sercross writes it (messages, results.csv, metrics.json, tables,
reports). Input may also use ``source:target`` or ``source->target`` (easier to type; older results.csv files
use ``:``). In the cache a scheme is the folder ``source__target`` (:func:`sercross.infra.scheme_name`), the
same name with a separator that every file system and shell accepts.
"""

from __future__ import annotations

from sercross.infra import SercrossError

ARROW = "→"
_SEPARATORS = (ARROW, "->", ":")


def scheme_key(source: str, target: str) -> str:
    """The one spelling of a scheme: ``source→target``."""
    return f"{source}{ARROW}{target}"


def split_scheme(text: str) -> tuple[str, str]:
    """``(source, target)`` of ``source→target`` (or ``source:target``, ``source->target``); names as written."""
    for sep in _SEPARATORS:
        if sep in text:
            source, target = (part.strip() for part in text.split(sep, 1))
            if source and target:
                return source, target
            break
    raise SercrossError(f"cannot read scheme {text!r}",
                        hint="write a scheme as SOURCE:TARGET (or SOURCE→TARGET), e.g. B:C or ravdess:casia")

# The paper's six schemes (section 3.1), in the column order of its Tables 3 and 4.
PAPER_SCHEMES: tuple[tuple[str, str], ...] = (
    ("enterface", "berlin"),
    ("berlin", "enterface"),
    ("enterface", "casia"),
    ("casia", "enterface"),
    ("berlin", "casia"),
    ("casia", "berlin"),
)
# The paper's one-letter corpus names, used in scheme labels (E→B).
PAPER_SHORT: dict[str, str] = {"berlin": "B", "enterface": "E", "casia": "C"}


def scheme_label(source: str, target: str) -> str:
    """``E→B`` for the paper's corpora (its tables' short names), else the scheme's spelling ``source→target``."""
    if source in PAPER_SHORT and target in PAPER_SHORT:
        return scheme_key(PAPER_SHORT[source], PAPER_SHORT[target])
    return scheme_key(source, target)


def scheme_name_label(name: str) -> str:
    """The label of a scheme written ``source→target`` (``enterface→berlin`` -> ``E→B``), keeping a pair's class
    set written after it (``berlin→casia (anger+fear)`` -> ``B→C (anger+fear)``)."""
    scheme, space, classes = name.partition(" (")
    return scheme_label(*split_scheme(scheme)) + (space + classes if space else "")
