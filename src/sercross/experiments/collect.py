"""A benchmark's results read back from its run folders: one row per run, results.csv, and the grid's description."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sercross.experiments.auto import SELECTION_FILE
from sercross.experiments.execute import Outcome
from sercross.experiments.plan import Plan
from sercross.infra import SercrossError, atomic_write_csv, read_csv, read_json
from sercross.methods import get_method
from sercross.selection import SCORES

BENCHMARKS_DIR = "benchmarks"
# The error column of a finished run on an unlabelled target (no WAR or UAR: its predictions.csv has the results).
UNLABELLED = "target unlabelled: predictions only (the run's predictions.csv)"
# The label-free scores of each run (sercross.selection.SCORES), as columns score_<name>.
SCORE_COLUMNS = tuple(f"score_{name}" for name in SCORES)
RESULTS_HEADER = (
    "scheme", "source", "target", "method", "preset", "seed", "war", "uar", "run_dir",
    "status", "error", "oracle_war", "oracle_epoch", "reverse_validation_uar", "predicted_classes",
    "classes", "chance", *SCORE_COLUMNS, "picked", "runner_up",
)


def oracle_from_history(path: Path) -> tuple[float | None, int | None]:
    """(best target WAR over epochs, its epoch) from history.csv's monitoring column; None if absent.

    This is an oracle (model selection on target labels), shown only for comparison with how the authors'
    public code reports its numbers; it never enters the main tables.
    """
    try:
        rows = read_csv(path)
    except OSError:
        return None, None
    vals = []
    for row in rows:
        v = row.get("target_war_monitor")
        if v not in (None, ""):
            vals.append((float(v), int(float(row["epoch"]))))
    if not vals:
        return None, None
    best = max(vals, key=lambda t: (t[0], -t[1]))  # the first epoch reaching the best value
    return best[0], best[1]


def collect_results(plan: Plan, outcome: Outcome | dict | None = None) -> list[dict]:
    """One row per run of the plan (columns :data:`RESULTS_HEADER`), read back from the run folders.

    ``outcome``: what was trained (an :class:`Outcome`, or its ``results`` so far while the grid runs). A run of a
    method the seed does not change is listed for every seed, each row naming the one run folder.
    """
    results = outcome.results if isinstance(outcome, Outcome) else (outcome or {})
    trained = {plan.run_dir(spec): res for spec, res in results.items()}
    scheme_order = [s.name for s in plan.schemes]
    classes = {s.name: s.classes for s in plan.schemes}
    method_order = list(plan.methods)
    finished = {plan.run_dir(spec) for spec in plan.finished}
    rows = []
    for spec in sorted([*plan.runs, *plan.selections],
                       key=lambda r: (scheme_order.index(r.scheme), method_order.index(r.method), r.seed)):
        rdir = plan.run_dir(spec)
        recipe = plan.recipe(spec)
        row = {
            "scheme": spec.scheme, "source": spec.source, "target": spec.target, "method": spec.method,
            "preset": recipe.tag, "seed": spec.seed, "war": None, "uar": None, "run_dir": str(rdir),
            "status": "missing", "error": "", "oracle_war": None, "oracle_epoch": None,
            "reverse_validation_uar": None, "predicted_classes": None,
            "classes": "+".join(classes[spec.scheme]), "chance": round(1 / len(classes[spec.scheme]), 6),
        }
        res = trained.get(rdir)
        if spec.method in plan.candidates:  # an auto decision
            row.update(_selection_row(rdir))
        elif res is not None and res["status"] == "failed":
            row.update(status="failed", error=res["error"])
        elif (rdir / "metrics.json").is_file() and (rdir in finished or res is not None):
            row.update(_finished_row(rdir, recipe.method), status="reused" if rdir in finished else "trained")
        else:
            row["error"] = plan.stale.get(spec, "not trained")
        rows.append(row)
    return rows


def _finished_row(rdir: Path, method: str) -> dict:
    """The values of a finished run's row: metrics, classes predicted, the label-free scores stored with it, and for
    networks the oracle epoch."""
    met = read_json(rdir / "metrics.json")
    if met.get("labelled", True):
        row = {"war": float(met["war"]), "uar": float(met["uar"])}
    else:  # an unlabelled target: predictions only
        row = {"war": None, "uar": None, "error": UNLABELLED}
        row["predicted_classes"] = sum(1 for k in (met.get("predicted") or {}).values() if k > 0)
    confusion = np.asarray(met.get("confusion") or [])
    if confusion.ndim == 2:  # how many classes the run predicts at all (1: collapsed)
        row["predicted_classes"] = int((confusion.sum(axis=0) > 0).sum())
    if get_method(method).kind == "network":
        row["oracle_war"], row["oracle_epoch"] = oracle_from_history(rdir / "history.csv")
    row["reverse_validation_uar"] = read_json(rdir / "config.json").get("reverse_validation_uar")
    row.update(stored_scores(rdir))
    return row


def _selection_row(rdir: Path) -> dict:
    """The row of an ``auto`` decision: the picked run's metrics, the pick and the runner-up."""
    if not (rdir / "metrics.json").is_file():
        return {"status": "missing", "error": "not selected (a candidate run failed or is missing)"}
    doc = read_json(rdir / SELECTION_FILE)
    first = (doc.get("members") or [doc["pick"]])[0]  # an average: the scores are those of its best-ranked member
    row = _finished_row(rdir, first)
    row.pop("oracle_war", None), row.pop("oracle_epoch", None)  # the picked run's oracle is not auto's
    return {**row, **stored_scores(Path(doc["candidates"][first]["run_dir"])), "status": "selected",
            "picked": doc["pick"], "runner_up": doc.get("runner_up")}


def stored_scores(rdir: Path) -> dict[str, float | None]:
    """``{score_<name>: value}`` from the run's scores.json (see :func:`complete_scores`), empty without it."""
    from sercross.experiments.label_free import SCORES_FILE

    try:
        scores = read_json(rdir / SCORES_FILE).get("scores") or {}
    except (OSError, ValueError):
        return {}
    return {f"score_{name}": scores.get(name) for name in SCORES}


def complete_scores(plan: Plan, on_run=None) -> int:
    """Compute the label-free scores of every finished run of the plan that has none yet (runs trained before
    scores existed, or with other score settings); returns how many were computed. ``on_run(spec)`` reports."""
    from sercross.experiments.label_free import run_scores, scores_current
    from sercross.experiments.pairs import load_pair

    pairs, done = {}, 0
    for spec in plan.runs:
        rdir = plan.run_dir(spec)
        if not (rdir / "metrics.json").is_file() or scores_current(rdir) is not None:
            continue
        if spec.key not in pairs:
            pairs[spec.key] = load_pair(plan.cache, spec.key, feature_set=plan.feature_set)
        if on_run is not None:
            on_run(spec)
        run_scores(rdir, pairs[spec.key])
        done += 1
    return done


def write_results_csv(path: Path, rows: Iterable[dict]) -> None:
    def fmt(v):
        return "" if v is None else v

    atomic_write_csv(path, RESULTS_HEADER, [[fmt(r.get(k)) for k in RESULTS_HEADER] for r in rows])


def benchmark_dir(cache: Path, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise SercrossError(f"bad benchmark name {name!r}", hint="use letters, digits, '-' and '_'")
    return Path(cache) / BENCHMARKS_DIR / name


def benchmark_meta(plan: Plan, name: str, outcome: Outcome | None = None) -> dict:
    """What :func:`sercross.experiments.tables.build_tables` needs to know about the grid."""
    from datetime import datetime, timezone

    from sercross import __version__

    return {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sercross_version": __version__,
        "preset": plan.preset,
        "tag": plan.tag,
        "config": plan.config.to_dict(),
        "feature_set": plan.feature_set,
        "target_sets": list(plan.target_sets),
        "seeds": list(plan.seeds),
        "methods": list(plan.methods),
        "recipes": {label: dict(r.to_dict(), tag=r.tag, seeded=r.seeded,
                                config=r.spec.configure(r.config).to_dict()) for label, r in plan.recipes.items()},
        "schemes": [
            {"name": s.name, "label": s.label, "source": s.source, "target": s.target, "classes": list(s.classes),
             "class_set": "default" if s.key.default else "chosen", "n_source": s.n_source, "n_target": s.n_target}
            for s in plan.schemes
        ],
        "skipped": [{"scheme": s.scheme, "reason": s.reason} for s in plan.skipped],
        "jobs": outcome.jobs if outcome else None,
        "threads": outcome.threads if outcome else None,
        "scheduler": outcome.scheduler if outcome else None,
    }


def write_benchmark(cache: Path, name: str, plan: Plan, outcome: Outcome | dict | None = None,
                    reference_rows: list[dict] | None = None) -> tuple[list, dict, dict]:
    """Write results.csv and the tables of the benchmark ``name`` as they stand (``outcome``: what was trained so
    far, or the finished grid's :class:`Outcome`); returns (rows, tables document, paths of the files written).
    ``reference_rows``: in-corpus references beside the columns (:func:`.incorpus.reference_rows`), written to
    in_corpus.csv and shown in the tables.

    Called after every finished run, so an interrupted grid keeps the tables of what it finished."""
    from sercross.experiments.render import write_tables
    from sercross.experiments.tables import build_tables
    from sercross.infra import atomic_write_csv

    rows = collect_results(plan, outcome)
    bdir = benchmark_dir(cache, name)
    write_results_csv(bdir / "results.csv", rows)
    if reference_rows:
        header = ["scheme", "target", "method", "seed", "war", "uar", "status", "error", "run_dir"]
        atomic_write_csv(bdir / "in_corpus.csv", header, [[r.get(k, "") for k in header] for r in reference_rows])
    doc = build_tables(rows, benchmark_meta(plan, name, outcome if isinstance(outcome, Outcome) else None),
                       reference_rows)
    paths = write_tables(bdir, doc)
    return rows, doc, {"results": bdir / "results.csv", **paths}
