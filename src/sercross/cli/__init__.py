"""The ``sercross`` command line: one thin command per pipeline stage, exchanging artifacts via the cache.

Commands are plain functions in the ``*_cmds`` modules, their parameters typed with the shared options of
:mod:`sercross.cli.options`; they are all registered here, by :func:`sercross.cli.common.add_commands`.
"""

from __future__ import annotations

import typer

from sercross.cli import (
    benchmark_cmds,
    corpora_cmds,
    demo_cmds,
    extract_cmds,
    predict_cmds,
    protocol_cmds,
    report_cmds,
    train_cmds,
)
from sercross.cli.common import Group, Settings, add_commands
from sercross.cli.options import CacheOpt, VerboseOpt, VersionOpt

app = typer.Typer(
    name="sercross",
    cls=Group,
    help="Cross-corpus speech emotion recognition: openSMILE features, TLMLDA and baselines, honest results.\n\n"
    "Typical use: `sercross extract berlin --root ~/data/emodb`, `sercross extract casia --root ~/data/casia`, "
    "`sercross train --source berlin --target casia`, `sercross evaluate --source berlin --target casia`. "
    "Try everything on synthetic data with `sercross demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(ctx: typer.Context, cache: CacheOpt = None, verbose: VerboseOpt = False,
                 version: VersionOpt = False) -> None:
    from sercross.infra import resolve_cache

    ctx.obj = Settings(resolve_cache(cache), verbose, cache is not None)


corpora_app = typer.Typer(
    cls=Group,
    no_args_is_help=True,
    help="Known corpora and their roots (`corpora list`); check a download (`corpora check NAME --root PATH`).",
)

add_commands(app, [
    ("extract", extract_cmds.extract),
    ("pair", train_cmds.pair),
    ("train", train_cmds.train),
    ("evaluate", train_cmds.evaluate),
    ("predict", predict_cmds.predict),
    ("demo", demo_cmds.demo),
    ("benchmark", benchmark_cmds.benchmark),
    ("run", benchmark_cmds.run),
    ("incorpus", protocol_cmds.incorpus),
    ("report", report_cmds.report),
])
add_commands(corpora_app, [("list", corpora_cmds.list_corpora), ("check", corpora_cmds.check)])
app.add_typer(corpora_app, name="corpora")


def main() -> None:
    import sys

    from sercross.cli.parsing import hoist_cache_option

    app(args=hoist_cache_option(sys.argv[1:]), prog_name="sercross")
