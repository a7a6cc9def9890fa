"""``sercross corpora``: the corpora sercross knows, where their roots are, and whether a download is usable."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from sercross.cli.common import Settings, err, out, settings, with_verbose
from sercross.cli.options import CorpusArg, JsonOpt, QuickOpt, RootOpt, VerboseOpt
from sercross.infra import SercrossError, hms

SHOW = 10  # files listed per problem without --verbose


def list_corpora(ctx: typer.Context) -> None:
    """Known corpora: classes, official size, configured root (found or not) and what the cache holds.

    Corpora the cache knows by name (given by a manifest's path, or renamed with `extract --name`) are listed too. For
    a table-labelled corpus, the classes and files are those of its cached features.
    """
    from sercross.corpora import (
        USER_CONFIG,
        available_manifests,
        cached_features,
        configured_root,
        load_manifest,
        manifest_dirs,
        registered_manifests,
    )

    s = settings(ctx)
    table = Table(title="known corpora", header_style="bold", show_lines=True)
    table.add_column("corpus")
    table.add_column("classes")
    table.add_column("files", justify="right")
    table.add_column("root")
    table.add_column("cached features")
    shipped = available_manifests()
    listed = sorted(shipped.items()) + [(n, p) for n, p in registered_manifests(s.cache).items() if n not in shipped]
    for name, path in listed:
        try:
            m = load_manifest(path)
        except SercrossError as exc:
            table.add_row(escape(name), "[red]broken manifest[/]", "", escape(exc.message), "")
            continue
        cached = cached_features(s.cache, m.name)
        table.add_row(_name_cell(m, name not in shipped), *_size_cells(m, cached), _root_cell(m, configured_root),
                      _cache_cell(cached))
    out.print(table)
    out.print(
        f"roots come from --root, $SERCROSS_ROOT_<NAME> or [roots] in {USER_CONFIG}; cache: {s.cache}",
        highlight=False, markup=False,
    )
    out.print("manifests from: " + ", ".join(str(d) for d in manifest_dirs()) + f" and {s.cache / 'manifests'}",
              highlight=False, markup=False)


def _name_cell(m, in_cache: bool) -> str:
    label = escape(m.name) + (f"\n[dim]{escape(', '.join(m.aliases))}[/]" if m.aliases else "")
    if m.kind == "csv":
        label += f"\n[dim]labelled by {escape(m.csv)}[/]"
    if in_cache:
        label += "\n[dim]named in this cache[/]"
    return label


def _size_cells(m, cached) -> tuple[str, str]:
    """(classes, files): the manifest's, or for a table-labelled corpus those of its cached features."""
    if m.kind == "csv" and m.expected_files is None:
        if not cached:
            return "[dim]those of its table (none cached yet)[/]", ""
        c = cached[0]
        classes = ", ".join(f"{e} ({n})" for e, n in c.emotions) or "—"
        return escape(classes), f"{c.n_utterances}\n[dim]cached {escape(c.feature_set)}[/]"
    files = "" if m.expected_files is None else str(m.expected_files)
    if m.expected_speakers is not None:
        files += f"\n[dim]{m.expected_speakers} speakers[/]"
    return escape(", ".join(m.classes)), files


def _root_cell(m, configured_root) -> str:
    try:
        root, source = configured_root(m)
    except SercrossError as exc:  # an unreadable config file
        return f"[red]{escape(exc.message)}[/]"
    if root is None:
        return f"[dim]not set ({escape(m.env_var)})[/]"
    found = Path(root).expanduser().is_dir()
    state = "[green]found[/]" if found else "[red]missing[/]"
    return f"{escape(str(root))}\n{state} [dim]({escape(str(source))})[/]"


def _cache_cell(cached) -> str:
    if not cached:
        return "[dim]—[/]"
    return "\n".join(f"{escape(c.feature_set)}: {c.n_utterances} from {escape(c.root or '?')}" for c in cached)


def check(
    ctx: typer.Context,
    corpus: CorpusArg,
    root: RootOpt = None,
    quick: QuickOpt = False,
    json_out: JsonOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Check a corpus download: counts, unlabelled, unreadable and identical files, duration.

    Counts per emotion and speaker are compared with the official ones; files that get no label, unreadable or
    empty files, duplicates and the total duration are listed. Exit code 1 when no labelled file is usable.
    """
    from sercross.corpora import check_corpus, load_manifest

    s = with_verbose(settings(ctx), verbose)
    manifest = load_manifest(corpus, s.cache)
    root_path = _root_for_check(s, manifest, root)
    if quick:
        report = check_corpus(manifest, root_path, audio=False, hashes=False)
    else:
        from sercross.infra import progress_bar

        with progress_bar(err, f"check {manifest.name}") as progress:
            task = progress.add_task(f"check {manifest.name}", total=None, rate="")
            report = check_corpus(
                manifest, root_path,
                on_start=lambda n: progress.update(task, total=n),
                on_progress=lambda k: progress.update(task, advance=k),
            )
    _print_report(report, manifest, s.verbose)
    if json_out is not None:
        from sercross.infra import atomic_write_json

        atomic_write_json(json_out, report.to_dict())
        out.print(f"report written to {json_out}", highlight=False, markup=False)
    if not report.usable:
        err.print(f"[bold red]unusable:[/] no labelled, readable file of {escape(manifest.name)} under "
                  f"{escape(str(root_path))}", highlight=False)
        raise typer.Exit(1)


def _root_for_check(s: Settings, manifest, root: Path | None) -> Path:
    from sercross.corpora import cached_features, resolve_root

    if root is not None:
        return resolve_root(manifest, root)
    try:
        return resolve_root(manifest)
    except SercrossError:
        for c in cached_features(s.cache, manifest.name):
            if c.root and Path(c.root).is_dir():
                err.print(f"using the root its cached {c.feature_set} features were extracted from: {c.root}",
                          highlight=False, markup=False)
                return Path(c.root)
        raise


# ---------------------------------------------------------------------------------------------
# printing a report


def _print_report(report, manifest, verbose: bool) -> None:
    out.print(f"[bold]{escape(report.title)}[/] ({escape(report.corpus)})", highlight=False)
    out.print(f"root: {report.root}", highlight=False, markup=False)
    if report.manifest_path:
        out.print(f"manifest: {report.manifest_path}", highlight=False, markup=False)
    out.print(_summary_table(report, manifest))
    if report.utterances:
        out.print(_emotion_table(report, manifest))
        _print_speakers(report, manifest, verbose)
    _print_files("left out (no label)", report.skipped, verbose)
    _print_files("labelled but unreadable or too short", report.unreadable, verbose)
    if report.duplicates:
        out.print(f"[bold]identical files[/] ({len(report.duplicates)} groups)")
        shown = report.duplicates if verbose else report.duplicates[:SHOW]
        for group in shown:
            out.print("  " + " = ".join(group), highlight=False, markup=False)
        if len(shown) < len(report.duplicates):
            out.print(f"  … and {len(report.duplicates) - len(shown)} more groups (--verbose shows them)")
    for w in report.warnings:
        out.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    if report.usable:
        readable = (f", {report.n_readable} readable (silent files show up only at extraction, which reads every "
                    "sample)" if report.audio_checked else " (audio not read: --quick)")
        out.print(f"[green]usable:[/] {report.n_labelled} labelled files{readable}", highlight=False)


def _summary_table(report, manifest) -> Table:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("files looked at", str(report.included))
    labelled = str(report.n_labelled)
    if manifest.expected_files is not None:
        labelled += _vs(report.n_labelled, manifest.expected_files)
    t.add_row("labelled", labelled)
    n_speakers = len([s for s in report.speaker_counts if s])
    speakers = str(n_speakers)
    if manifest.expected_speakers is not None:
        speakers += _vs(n_speakers, manifest.expected_speakers)
    t.add_row("speakers", speakers)
    t.add_row("left out (no label)", str(len(report.skipped)))
    if report.audio_checked:
        t.add_row("unreadable or too short", str(len(report.unreadable)))
        n = len(report.durations)
        mean = f", mean {report.total_seconds / n:.2f} s" if n else ""
        t.add_row("duration", f"{hms(report.total_seconds)}{mean}")
        t.add_row("sample rates", ", ".join(f"{sr} Hz × {k}" for sr, k in report.sample_rates.items()) or "—")
        t.add_row("channels", ", ".join(f"{c} × {k}" for c, k in report.channels.items()) or "—")
    if report.hashed:
        t.add_row("identical files", f"{len(report.duplicates)} groups")
    return t


def _vs(found: int, expected: int) -> str:
    return " [green]✓[/]" if found == expected else f" [yellow](expected {expected})[/]"


def _emotion_table(report, manifest) -> Table:
    from sercross.corpora import CANONICAL_EMOTIONS

    t = Table(title="emotions", header_style="bold")
    t.add_column("emotion")
    t.add_column("native labels")
    t.add_column("files", justify="right")
    t.add_column("expected", justify="right")
    counts = report.emotion_counts
    names = report.native_names
    wanted = set(counts) | set(manifest.expected_emotions)
    order = [e for e in CANONICAL_EMOTIONS if e in wanted] + sorted(wanted - set(CANONICAL_EMOTIONS))
    for emo in order:
        found = counts.get(emo, 0)
        expected = manifest.expected_emotions.get(emo)
        if expected is None:
            exp_cell = "" if not manifest.expected_emotions else "[yellow]0[/]"
        else:
            exp_cell = str(expected) if found == expected else f"[yellow]{expected}[/]"
        t.add_row(escape(emo), escape(", ".join(names.get(emo, []))), str(found), exp_cell)
    return t


def _print_speakers(report, manifest, verbose: bool) -> None:
    counts = report.speaker_counts
    if not any(counts):
        out.print("[dim]no speaker ids (the manifest does not read them)[/]")
        return
    odd = {m.what.removeprefix("speaker "): m for m in report.mismatches if m.what.startswith("speaker ")}
    if len(counts) <= 30 or verbose:
        known = manifest.expected_per_speaker is not None or bool(manifest.expected_speaker_files)
        t = Table(title="speakers", header_style="bold")
        t.add_column("speaker")
        t.add_column("files", justify="right")
        if known:
            t.add_column("expected", justify="right")
        for spk in list(counts) + [s for s in odd if s not in counts]:
            expected = manifest.expected_for_speaker(spk)
            cell = "" if expected is None else (f"[yellow]{expected}[/]" if spk in odd else str(expected))
            t.add_row(escape(spk or "(none)"), str(counts.get(spk, 0)), *([cell] if known else []))
        out.print(t)
        return
    values = list(counts.values())
    out.print(f"[bold]speakers[/]: {len(counts)}, {min(values)}–{max(values)} files each (--verbose lists them)")
    for spk, m in odd.items():
        out.print(f"  [yellow]speaker {escape(spk)}[/]: {m.found} files, expected {m.expected}", highlight=False)


def _print_files(title: str, items, verbose: bool) -> None:
    if not items:
        return
    out.print(f"[bold]{title}[/] ({len(items)} files)")
    if len(items) > SHOW and not verbose:
        for reason, n in Counter(s.reason for s in items).most_common(5):
            out.print(f"  {n} × {reason}", highlight=False, markup=False)
    shown = items if verbose else items[:SHOW]
    for sk in shown:
        out.print(f"  {sk.file}: {sk.reason}", highlight=False, markup=False)
    if len(shown) < len(items):
        out.print(f"  … and {len(items) - len(shown)} more (--verbose lists them, --json writes them all)")
