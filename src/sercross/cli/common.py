"""What every command module shares: settings from the global options, error handling, consoles."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import typer
from rich.markup import escape

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


VERBOSE_OPT = typer.Option(False, "--verbose", "-v", help="List every skipped file and problem (also given before "
                           "the command: `sercross --verbose …`, which adds full tracebacks on errors).")


def with_verbose(s: Settings, verbose: bool) -> Settings:
    """The settings with a command's own --verbose added to the global one."""
    return replace(s, verbose=True) if verbose and not s.verbose else s


def guarded(fn):
    """Wrap a command (whose first parameter is ``ctx: typer.Context``) so that a SercrossError becomes one
    line, a hint and exit code 2, and Ctrl-C a short note; ``--verbose`` keeps the traceback."""

    @functools.wraps(fn)
    def wrapper(ctx: typer.Context, *a, **kw):
        try:
            return fn(ctx, *a, **kw)
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

    return wrapper
