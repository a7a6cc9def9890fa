"""The csv kind of manifest: a corpus labelled by a table (``labels.csv``: file, emotion, optionally speaker)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sercross.corpora.manifests import CorpusIndex, Manifest, Skipped, Utterance, left_out
from sercross.infra import SercrossError

# Column names accepted in a csv-kind table, first the canonical one; a manifest's [csv_columns] overrides.
CSV_COLUMN_ALIASES = {
    "file": ("file", "path", "filename", "file_name", "filepath", "wav", "audio"),
    "emotion": ("emotion", "label", "class", "emo"),
    "speaker": ("speaker", "speaker_id", "spk", "actor", "subject"),
}


def table_path(manifest: Manifest, root: Path) -> Path:
    table = Path(manifest.csv)
    return table if table.is_absolute() else root / table


def scan_table(manifest: Manifest, root: Path) -> tuple[CorpusIndex, set[str]]:
    """Every row of the manifest's table, labelled or skipped with its reason; and the files the table lists.

    ``included`` counts the files listed; files under the root that the table does not list are the caller's
    (:func:`sercross.corpora.scanning.scan` adds those the manifest's ``include`` globs select).
    """
    table = table_path(manifest, root)
    rows = _read_rows(manifest, table)
    cols = _csv_columns(manifest, [c.strip() for c in rows[0]], table)
    # Unlabelled: the manifest says so, or the table has no emotion column (and no column it does not know), or
    # none of its rows has an emotion. Then every listed file is an utterance without emotion.
    labelled = manifest.labelled and "emotion" in cols and any(
        cols["emotion"] < len(r) and r[cols["emotion"]].strip() for r in rows[1:])
    excludes = manifest.exclusions()
    utterances, skipped = [], []
    first_row: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        cell = dict.fromkeys(cols, "")
        for role, i in cols.items():
            cell[role] = row[i].strip() if i < len(row) else ""
        where = f"{table.name} line {line}"
        if not cell["file"]:
            skipped.append(Skipped(f"({where})", "row without a file name"))
            continue
        rel = _cell_path(cell["file"], root)
        if rel in first_row:
            skipped.append(Skipped(rel, f"listed twice in {table.name} (lines {first_row[rel]} and {line})"))
            continue
        first_row[rel] = line
        native = cell.get("emotion", "") if labelled else ""
        reason = left_out(rel, excludes) or _unlabelled(manifest, root, rel, native, where, labelled)
        if reason:
            skipped.append(Skipped(rel, reason))
            continue
        utterances.append(Utterance(rel, cell.get("speaker", ""), manifest.canonical(native) or "" if labelled
                                    else "", native))
    utterances.sort(key=lambda u: u.file)
    return CorpusIndex(manifest.name, root, utterances, skipped, len(first_row)), set(first_row)


def _unlabelled(manifest: Manifest, root: Path, rel: str, native: str, where: str,
                labelled: bool = True) -> str | None:
    """Why a listed file gets no utterance (missing, or no known emotion in a labelled table), or None."""
    if not (root / rel).is_file():
        return f"listed in {where} but not found under the root"
    if not labelled or (native and manifest.canonical(native) is not None):
        return None
    why = "no emotion" if not native else f"unknown emotion label {native!r}"
    return f"{why} ({where})"


def _read_rows(manifest: Manifest, table: Path) -> list[list[str]]:
    """The table's non-empty rows, header first."""
    if not table.is_file():
        raise SercrossError(
            f"corpus {manifest.name!r} is labelled by a table, but {table} does not exist",
            hint="write a CSV with the columns file, emotion and (optionally) speaker there, one row per audio "
            "file, paths relative to the root (see corpora_manifests/README.md)",
        )
    try:
        text = table.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SercrossError(f"cannot read {table}: {exc}", hint="save the table as UTF-8 text") from exc
    rows = list(csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise SercrossError(f"{table} is empty", hint="its first line must name the columns: file,emotion,speaker")
    return rows


def _sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_columns(manifest: Manifest, header: list[str], table: Path) -> dict[str, int]:
    lower = [h.lower() for h in header]
    cols: dict[str, int] = {}
    for role, aliases in CSV_COLUMN_ALIASES.items():
        wanted = (manifest.csv_columns[role],) if role in manifest.csv_columns else aliases
        idx = next((lower.index(w.lower()) for w in wanted if w.lower() in lower), None)
        if idx is not None:
            cols[role] = idx
        elif role == "emotion" and (not manifest.labelled or _only_known(lower, cols)):
            continue  # an unlabelled table: file (and speaker) only
        elif role != "speaker" or role in manifest.csv_columns:
            raise SercrossError(
                f"{table}: no {role} column (looked for {', '.join(wanted)}; the header has {', '.join(header)})",
                hint="name the columns file, emotion and speaker, or map them with [csv_columns] in the manifest",
            )
    return cols


def _only_known(lower: list[str], cols: dict[str, int]) -> bool:
    """Whether every column of the header is a file or speaker column (so a missing emotion column is not a
    misnamed one)."""
    known = {a for role in ("file", "speaker") for a in CSV_COLUMN_ALIASES[role]}
    return bool(cols) and all(h in known or not h for h in lower)


def _cell_path(value: str, root: Path) -> str:
    """A table's file cell as a path relative to the root (forward slashes); absolute paths outside the
    root stay absolute."""
    value = value.replace("\\", "/")
    p = Path(value)
    if p.is_absolute():
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            try:
                return p.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                return p.as_posix()
    while value.startswith("./"):
        value = value[2:]
    return value
