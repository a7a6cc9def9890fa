"""The ``sercross`` command line: one thin command per pipeline stage, exchanging artifacts via the cache.

Each module of this package adds its commands to ``app`` through a ``register(app)`` function.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sercross import __version__
from sercross.cli import benchmark_cmds, commands, corpora_cmds, report_cmds
from sercross.cli.common import Settings, out

app = typer.Typer(
    name="sercross",
    help="Cross-corpus speech emotion recognition: openSMILE features, TLMLDA and baselines, honest results.\n\n"
    "Typical use: `sercross extract berlin --root ~/data/emodb`, `sercross extract casia --root ~/data/casia`, "
    "`sercross train --source berlin --target casia`, `sercross evaluate --source berlin --target casia`. "
    "Try everything on synthetic data with `sercross demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"sercross {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    cache: Path | None = typer.Option(
        None, "--cache", envvar="SERCROSS_CACHE", show_envvar=True,
        help="Cache directory for features, pairs and runs. Default: ~/.cache/sercross (`sercross demo`: its "
        "--out folder's cache/).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every skipped file and problem, and show full "
                                 "tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    from sercross.infra import resolve_cache

    ctx.obj = Settings(resolve_cache(cache), verbose, cache is not None)


for _module in (commands, corpora_cmds, benchmark_cmds, report_cmds):
    _module.register(app)


def main() -> None:
    app()
