"""What every command shares: settings from the global options, consoles, and the command classes that turn a
SercrossError into one line and a hint and show flags without a value type."""

from __future__ import annotations

import inspect
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
