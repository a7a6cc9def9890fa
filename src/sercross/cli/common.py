"""What every command shares: settings from the global options, consoles, and the command classes that turn a
SercrossError into one line and a hint and show flags without a value type."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, replace
from pathlib import Path

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from sercross.infra import SercrossError, consoles

out, err = consoles()


@dataclass(frozen=True)
class Settings:
    cache: Path
    verbose: bool = False
    cache_given: bool = False  # by --cache or $SERCROSS_CACHE, rather than the default


def settings(ctx: typer.Context) -> Settings:
    if isinstance(ctx.obj, Settings):
        return ctx.obj
    from sercross.infra import resolve_cache

    return Settings(resolve_cache(None))


# `sercross demo` keeps its corpora's cache in its --out folder (demo-output/cache), not in the default cache; it
# leaves this pointer in the default cache so that commands on the demo corpora find it without --cache.
DEMO_POINTER = "demo-cache.json"
DEMO_CORPORA = ("demo_a", "demo_b")


def remember_demo_cache(demo_cache: Path) -> None:
    """Leave the demo's cache folder in the default cache's pointer file (a failure to write it changes nothing)."""
    from sercross.infra import atomic_write_json, resolve_cache

    try:
        atomic_write_json(resolve_cache(None) / DEMO_POINTER, {"cache": str(Path(demo_cache).resolve())})
    except (SercrossError, OSError):
        pass


def for_corpora(s: Settings, *names: str | None) -> Settings:
    """The settings to use for commands on ``names``: with no cache given and the demo corpora named, the cache
    `sercross demo` wrote (said in a note), when the default cache has none of their runs or features."""
    from sercross.infra import read_json

    plain = [(n or "").strip().lower().replace("-", "_") for n in names]  # demo-a, Demo_A: the demo's corpora too
    if s.cache_given or not names or not all(n in DEMO_CORPORA for n in plain):
        return s
    if any((s.cache / sub / "demo_a__demo_b").exists() or (s.cache / sub / "demo_b__demo_a").exists()
           for sub in ("runs", "pairs")) or (s.cache / "features" / "demo_a").exists():
        return s
    try:
        demo_cache = Path(read_json(s.cache / DEMO_POINTER)["cache"])
    except (OSError, ValueError, KeyError, TypeError):
        return s
    if not demo_cache.is_dir():
        return s
    err.print(f"[dim]using the cache `sercross demo` wrote, {escape(str(demo_cache))} (--cache chooses another)[/]",
              highlight=False)
    return replace(s, cache=demo_cache, cache_given=True)


class PlainLog:
    """When work shown by a progress bar prints a plain line instead, with stderr not a terminal (a log under nohup,
    a pipe, where the bar is not redrawn): at every tenth of ``total`` (epochs of a run, files of a corpus) and at
    the end, and at least every ``seconds`` in between, so a long job shows it is alive and a short one prints about
    ten lines."""

    def __init__(self, total: int, seconds: float = 60.0, clock=time.monotonic) -> None:
        self.total, self.seconds, self.clock = total, seconds, clock
        self.step = max(1, total // 10)
        self.mark, self.last = 0, clock()

    def due(self, done: int) -> bool:
        """Whether to print a line now that ``done`` of ``total`` are done."""
        now = self.clock()
        if done // self.step > self.mark or done >= self.total or now - self.last >= self.seconds:
            self.mark, self.last = done // self.step, now
            return True
        return False


def with_verbose(s: Settings, verbose: bool) -> Settings:
    """The settings with a command's own --verbose added to the global one."""
    return replace(s, verbose=True) if verbose and not s.verbose else s


def _plain_flags(params: list) -> list:
    # Typer shows a flag's type (<bool>) as if it took a value; an empty metavar shows it as the flag it is.
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A sercross command: flags shown without a value type."""

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))


class Group(TyperGroup):
    """The sercross app and its command groups: flags shown plainly, and errors of every command below (its
    options' checks included) reported as one line and a hint with exit code 2; Ctrl-C as a short note with exit
    code 130. ``sercross --verbose`` keeps the traceback."""

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SercrossError as exc:
            if settings(ctx).verbose:
                raise
            err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
            if exc.hint:
                err.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: finished work is kept in the cache; run the same command to go on")
            raise typer.Exit(130) from None


def add_commands(app: typer.Typer, commands) -> None:
    """Register ``(name, function)`` pairs as commands of ``app``: the one way commands are added.

    The help text is the function's docstring with each paragraph joined into one line: Typer would otherwise
    keep the source's line breaks, which then fall mid-sentence on the terminal.
    """
    for name, fn in commands:
        app.command(name, cls=Command, help=_paragraphs(fn.__doc__ or ""))(fn)


def _paragraphs(doc: str) -> str:
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n"))


def resolved_precision(asked: str) -> str:
    """``--precision`` as trained (fp32 or bf16), saying what ``auto`` chose and when bf16 will be emulated."""
    from sercross.methods import native_bf16, resolve_precision

    chosen = resolve_precision(asked)
    if asked == "auto":
        err.print(f"precision {chosen.precision} ({escape(chosen.reason)})", highlight=False)
    elif chosen.precision == "bf16":
        native = native_bf16()
        if native.precision != "bf16":
            err.print(f"[yellow]note[/]: bf16 asked for, but {escape(native.reason)}", highlight=False)
    return chosen.precision


def flag_settings(sets: list[str] | None, epochs=None, lr=None, batch_size=None, precision=None) -> dict[str, object]:
    """The settings the flags ask for: ``--set NAME=VALUE``, then --epochs/--lr/--batch-size/--precision (which
    win over a --set of the same setting). A precision (flag or --set) is resolved here, ``auto`` into fp32 or bf16
    for this CPU, and said (:func:`resolved_precision`): runs store only the resolved value."""
    from sercross.cli.parsing import parse_sets, precision_name

    given = {k: v for k, v in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size), ("precision", precision))
             if v is not None}
    out = {**parse_sets(sets), **given}
    if "precision" in out:
        out["precision"] = resolved_precision(precision_name(str(out["precision"])))
    return out


def read_classes(names: tuple[str, ...] | None, *corpora) -> tuple[str, ...] | None:
    """The canonical classes of ``--classes`` (None: the default set); ``corpora``: feature tables or manifests,
    whose own labels count too."""
    from sercross.experiments import native_labels, resolve_classes

    if names is None:
        return None
    natives: dict[str, dict] = {}
    for c in corpora:
        name = getattr(c, "corpus", None) or c.name
        natives[name] = {**natives.get(name, {}), **native_labels(c)}
    return resolve_classes(names, natives)
