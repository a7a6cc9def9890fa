"""The paper's schemes (source → target pairs of corpora) and how a scheme is labelled in tables."""

from __future__ import annotations

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
    """``E→B`` for the paper's corpora, else ``source→target``."""
    if source in PAPER_SHORT and target in PAPER_SHORT:
        return f"{PAPER_SHORT[source]}→{PAPER_SHORT[target]}"
    return f"{source}→{target}"


def scheme_name_label(name: str) -> str:
    """The label of a scheme named ``source:target`` (``enterface:berlin`` -> ``E→B``)."""
    source, target = name.split(":", 1)
    return scheme_label(source, target)
