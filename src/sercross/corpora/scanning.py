"""Scanning a corpus root into a labelled index: walking folders, matching globs, labelling paths by a manifest's
rules, and, when nothing gets a label, saying why (an empty folder, the corpus one level down, another corpus)."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sercross.corpora.manifests import (
    CorpusIndex,
    Manifest,
    Skipped,
    Utterance,
    available_manifests,
    is_macos_junk,
    left_out,
    parse_manifest,
)
from sercross.corpora.tables import scan_table, table_path
from sercross.infra import SercrossError

NO_RULE = "file name matches no label rule of the manifest"

# The error path looks through the whole root for hints; stop after this many files (a mistaken --root ~).
_HINT_WALK_LIMIT = 200_000


@dataclass(frozen=True)
class CorpusGuess:
    """How well a known manifest labels the files under a folder."""

    name: str
    labelled: int
    included: int


# ---------------------------------------------------------------------------------------------
# walking a root and matching globs


def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern:
    """A regular expression for a relative-path glob: ``*`` and ``?`` stay within one folder, a ``**``
    component stands for any number of folders (also none), ``[...]`` is a character class."""
    parts = pattern.strip("/").split("/")
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_glob_part(part) + ("" if last else "/"))
    return re.compile("".join(out), re.IGNORECASE if ignore_case else 0)


def _glob_part(part: str) -> str:
    out, i = [], 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in part[i + 2 :]:
            end = part.index("]", i + 2)
            body = part[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _max_depth(patterns: tuple[str, ...]) -> int | None:
    """How many path components the patterns can reach; None when one has ``**``."""
    if not patterns:
        return 0
    if any("**" in p for p in patterns):
        return None
    return max(len(p.strip("/").split("/")) for p in patterns)


def walk_files(root: Path, max_depth: int | None = None, limit: int | None = None) -> tuple[list[str], list[str]]:
    """Relative posix paths of the files under ``root`` (symlinks followed, each folder once, sorted) up to
    ``max_depth`` components, and the folders that could not be read."""
    files: list[str] = []
    unreadable: list[str] = []
    seen: set[str] = set()

    def visit(folder: str, prefix: str, depth: int) -> None:
        real = os.path.realpath(folder)
        if real in seen:  # a symlink loop, or the same folder reached twice
            return
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            unreadable.append(prefix.rstrip("/") or ".")
            return
        subdirs = []
        for e in entries:
            try:
                if e.is_dir():
                    subdirs.append(e)
                elif e.is_file():
                    files.append(prefix + e.name)
            except OSError:
                continue
        if max_depth is not None and depth + 1 >= max_depth:
            return
        for e in subdirs:
            if limit is not None and len(files) >= limit:
                return
            visit(e.path, prefix + e.name + "/", depth + 1)

    visit(os.fspath(root), "", 0)
    return files, unreadable


def _included(manifest: Manifest, root: Path) -> list[str]:
    """The files under ``root`` that the manifest's ``include`` globs select."""
    files, _ = walk_files(root, _max_depth(manifest.include))
    includes = [glob_regex(p, manifest.ignore_case) for p in manifest.include]
    return [rel for rel in files if any(rx.fullmatch(rel) for rx in includes)]


# ---------------------------------------------------------------------------------------------
# labelling and scanning


def label_paths(manifest: Manifest, files: list[str]) -> tuple[list[Utterance], list[Skipped], int]:
    """Label relative paths (forward slashes) with a rules manifest, without touching the file system:
    (utterances, skipped, number of files the include globs select)."""
    includes = [glob_regex(p, manifest.ignore_case) for p in manifest.include]
    rules = [re.compile(r, manifest.regex_flags) for r in manifest.rules]
    excludes = manifest.exclusions()
    utterances, skipped, n = [], [], 0
    for rel in files:
        if not any(rx.fullmatch(rel) for rx in includes):
            continue
        n += 1
        reason = left_out(rel, excludes)
        if reason:
            skipped.append(Skipped(rel, reason))
            continue
        m = next((m for m in (r.fullmatch(rel) for r in rules) if m), None)
        if not manifest.labelled:  # no emotion: the rules only name speakers
            utterances.append(Utterance(rel, (m.groupdict().get("speaker") or "") if m else "", "", ""))
            continue
        if m is None:
            skipped.append(Skipped(rel, NO_RULE))
            continue
        native = m.group("emotion")
        emotion = manifest.canonical(native)
        if emotion is None:
            skipped.append(Skipped(rel, f"unknown emotion label {native!r}"))
            continue
        speaker = m.groupdict().get("speaker") or ""
        utterances.append(Utterance(rel, speaker, emotion, native))
    return utterances, skipped, n


def scan(manifest: Manifest, root: Path, *, strict: bool = True) -> CorpusIndex:
    """Every file the manifest includes, labelled; files left out are kept as skipped, with their reason.

    With ``strict`` (the default) a root in which nothing gets a label is an error that says why, when it
    can tell: an empty folder, the corpus one folder further down, or the files of another known corpus.
    """
    root = Path(root)
    if manifest.kind == "csv":
        index, listed = scan_table(manifest, root)
        if manifest.include:  # files the globs select but the table forgot
            name = table_path(manifest, root).name
            unlisted = [rel for rel in _included(manifest, root) if rel not in listed and not is_macos_junk(rel)]
            index.skipped += [Skipped(rel, f"not listed in {name}") for rel in unlisted]
            index.included += len(unlisted)
    else:
        files, bad_dirs = walk_files(root, _max_depth(manifest.include))
        utterances, skipped, n = label_paths(manifest, files)
        skipped += [Skipped(d + "/", "folder cannot be read (permission denied?)") for d in bad_dirs]
        index = CorpusIndex(manifest.name, root, utterances, skipped, n)
    if strict and not index.utterances:
        raise no_labels_error(manifest, root, index)
    return index


# ---------------------------------------------------------------------------------------------
# hints when nothing gets a label


def no_labels_error(manifest: Manifest, root: Path, index: CorpusIndex) -> SercrossError:
    """The error for a root in which the manifest labels nothing, with the most useful hint found."""
    files, _ = walk_files(root, None, _HINT_WALK_LIMIT)
    where = f"for corpus {manifest.name!r} under {root}"
    if not files:
        message = f"found no files {where}: the folder is empty"
    elif not index.included:
        message = f"found no files {where} (it holds {len(files)} files, none where the manifest looks)"
    else:
        message = f"found {index.included} files but none with a known label {where}"
    hints = []
    nested = nested_root(manifest, files) if manifest.kind == "rules" else None
    if nested:
        prefix, n = nested
        hints.append(f"the corpus seems to be one level down: {n} files get a label with --root {root / prefix}")
    other = different_corpus_hint(manifest, root, 0, files)
    if other:
        hints.append(other)
    hints.append(
        f"expected layout: {manifest.layout or ', '.join(manifest.include)}; is this the right folder "
        "(and the right corpus)?"
    )
    return SercrossError(message, hint="; ".join(hints))


def nested_root(manifest: Manifest, files: list[str]) -> tuple[str, int] | None:
    """The sub-folder (one or two levels down) under which the manifest labels the most files, if any."""
    best: tuple[str, int] | None = None
    for k in (1, 2):
        groups: dict[str, list[str]] = defaultdict(list)
        for f in files:
            parts = f.split("/")
            if len(parts) > k:
                groups["/".join(parts[:k])].append("/".join(parts[k:]))
        for prefix, sub in sorted(groups.items()):
            n = len(label_paths(manifest, sub)[0])
            if n and (best is None or n > best[1]):
                best = (prefix, n)
    return best


def identify(root: Path, files: list[str] | None = None) -> list[CorpusGuess]:
    """Known rules manifests that label at least one file under ``root``, the best first."""
    if files is None:
        files, _ = walk_files(Path(root), None, _HINT_WALK_LIMIT)
    guesses = []
    for path in available_manifests().values():
        try:
            m = parse_manifest(path)
        except SercrossError:
            continue  # a broken user manifest must not break the diagnosis of another corpus
        if m.kind != "rules":
            continue
        utterances, _, n = label_paths(m, files)
        if utterances:
            guesses.append(CorpusGuess(m.name, len(utterances), n))
    return sorted(guesses, key=lambda g: (-g.labelled, g.name))


def different_corpus_hint(
    manifest: Manifest, root: Path, labelled: int, files: list[str] | None = None
) -> str | None:
    """A sentence naming another known corpus when its manifest labels at least twice as many files under
    ``root`` as this one does (``labelled``); None otherwise."""
    for g in identify(root, files):
        if g.name == manifest.name:
            continue
        if g.labelled >= 2 * labelled and g.labelled > labelled:
            return (
                f"the files look like corpus {g.name!r} instead: its manifest labels {g.labelled} of them "
                f"(this one: {labelled}); try `sercross corpora check {g.name} --root {root}`"
            )
        return None
    return None
