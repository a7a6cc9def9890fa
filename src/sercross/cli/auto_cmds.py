"""``sercross train --method auto``: the rule's candidates trained (in parallel, reusing finished runs), then the
label-free pick, shown with every candidate's scores."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from sercross.cli.common import err, out

# Relative cost of one run of each kind against a TLMLDA+ run (the most expensive candidate): mean train_seconds
# of the 24 development pairs, fast preset, seed 0 (docs/selection.md): TLMLDA+ 81.6 s; networks with the
# auto-encoder 78.2 s; Only_cls 24.3 s; shallow methods 3.25 s. Label-free scores add a few seconds per run.
RELATIVE_COST = {"decoder": 0.96, "network": 0.30, "shallow": 0.04}


def auto_cost(rule) -> tuple[str, float]:
    """What ``auto`` trains, in words, and its cost in TLMLDA+ runs."""
    from sercross.methods import get_method

    kinds = {"decoder": 0, "network": 0, "shallow": 0}
    for m in rule.candidates:
        spec = get_method(m)
        if spec.kind == "network":
            kinds["decoder" if spec.uses("L_S") or spec.uses("L_T") else "network"] += 1
        else:
            kinds["shallow"] += 1
    cost = sum(RELATIVE_COST[k] * n for k, n in kinds.items())
    words = (f"{len(rule.candidates)} candidate runs ({kinds['decoder'] + kinds['network']} networks, "
             f"{kinds['decoder']} of them with the auto-encoder; {kinds['shallow']} shallow)")
    return words, cost


def train_auto(s, pair, recipe, seed: int, force: bool) -> None:
    """``train --method auto`` on a built pair: ``recipe``, auto with a preset and settings its candidates share."""
    from sercross.cli.benchmark_cmds import _run_with_progress
    from sercross.experiments import select_all
    from sercross.experiments.plan import plan_runs, scheme_of

    plan = plan_runs(s.cache, [scheme_of(pair)], {"auto": recipe}, [seed], recipe.feature_set)
    if force:
        plan.finished.clear()
    words, cost = auto_cost(plan.rule)
    err.print(f"auto: {words}, about {cost:.1f} TLMLDA+ runs of compute; {len(plan.finished)} finished already, "
              f"{len(plan.todo)} to train", highlight=False)
    outcome = _run_with_progress(plan, None)
    if outcome.failures:
        for spec, res in outcome.failures.items():
            err.print(f"[red]failed[/] {spec.describe()}: {escape(res['error'])}", highlight=False)
        raise typer.Exit(1)
    (result,) = select_all(plan, on_scoring=lambda m: err.print(f"label-free scores of {m} (older run)"))
    _show_selection(result)
    from sercross.cli.run_output import show_metrics

    show_metrics(result.run_dir)


def _show_selection(result) -> None:
    from sercross.experiments.auto import SELECTION_FILE
    from sercross.infra import read_json

    doc = read_json(result.run_dir / SELECTION_FILE)
    rule = doc["rule"]
    t = Table(title=f"auto {result.scheme} seed {result.seed}: {doc['pick']}; candidates ranked by "
              f"{' + '.join(rule['scores'])} (no target label)", header_style="bold")
    t.add_column("candidate")
    for name in rule["scores"]:
        t.add_column(name, justify="right")
    t.add_column("", justify="left")
    members = doc.get("members") or [doc["pick"]]
    for m, c in doc["candidates"].items():
        mark = _mark(m, members, doc.get("runner_up"))
        vals = [c["label_free"].get(name) for name in rule["scores"]]
        t.add_row(m, *("n/a" if v is None else f"{v:.4f}" for v in vals), mark)
    out.print(t)


def _mark(method: str, members: list[str], runner_up: str | None) -> str:
    """A candidate's note in the table: picked (or averaged, when the rule averages several), or the runner-up."""
    if method in members:
        return "picked" if len(members) == 1 else "averaged"
    return "runner-up" if len(members) == 1 and method == runner_up else ""
