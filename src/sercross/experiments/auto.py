"""``auto``: train a rule's candidates as ordinary runs, read their label-free scores, and record the decision.

``auto`` trains no model of its own: for each pair and seed it names one of the candidate runs, or (a rule that
averages, the default) the candidates whose mean target class probabilities it predicts with. Its folder
(``<cache>/runs/<scheme>/auto/<tag>-seed<k>/``) holds ``selection.json`` (the rule, every candidate's scores, the
pick or the members averaged, the rank and the runner-up), and ``config.json``, ``metrics.json`` and
``predictions.csv`` of the decision, so that it reads like any run. The candidates stay ordinary cached runs:
reused, resumable, trained in parallel by the benchmark machinery. An ``auto`` folder is up to date when the rule
and every candidate's model are the ones it recorded; otherwise the decision is made again (a few seconds: nothing
is trained for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.experiments.label_free import run_label_free
from sercross.experiments.pairs import Pair
from sercross.experiments.recipes import Recipe
from sercross.infra import SercrossError, atomic_write_bytes, atomic_write_json, read_json
from sercross.selection import (
    DEFAULT_RULE,
    SelectionRule,
    apply_rule,
    combine_outputs,
    majority_vote,
    speaker_confounding,
    speaker_normalised,
)

AUTO = "auto"
SELECTION_FILE = "selection.json"


def trained_methods(methods: Sequence[str], rule: SelectionRule = DEFAULT_RULE) -> tuple[str, ...]:
    """The methods whose runs a grid trains: ``auto`` stands for its rule's candidates (each once)."""
    out: list[str] = []
    for m in methods:
        out += list(rule.candidates) if m == AUTO else [m]
    return tuple(dict.fromkeys(out))


@dataclass
class AutoResult:
    scheme: str
    seed: int
    run_dir: Path
    pick: str
    runner_up: str | None
    reused: bool
    members: tuple[str, ...] = ()  # the candidates averaged (a rule that averages), else the pick alone


def auto_is_current(out: Path, rule: SelectionRule, candidate_dirs: dict[str, Path]) -> bool:
    """Whether the ``auto`` folder records this rule and exactly these candidate models."""
    try:
        doc = read_json(out / SELECTION_FILE)
        shas = {m: read_json(d / "config.json").get("model_sha1") for m, d in candidate_dirs.items()}
    except (OSError, ValueError):
        return False
    recorded = {m: c.get("model_sha1") for m, c in (doc.get("candidates") or {}).items()}
    return doc.get("rule") == rule.to_dict() and recorded == shas and (out / "metrics.json").is_file()


def select_for_pair(pair: Pair, recipe: Recipe, out: Path, dirs: dict[str, Path], seed: int,
                    rule: SelectionRule = DEFAULT_RULE, on_scoring: Callable[[str], None] | None = None) -> AutoResult:
    """Apply ``rule`` to the finished candidate runs of ``pair`` (``dirs``: candidate method -> its run folder) and
    write the ``auto`` folder ``out`` of ``recipe`` (auto with a preset and settings).

    Missing label-free scores are computed first (``on_scoring(method)`` says so). Reads no target label.
    """
    unfinished = [m for m, d in dirs.items() if not (d / "metrics.json").is_file()]
    if unfinished:
        raise RuntimeError(f"auto on {pair.name} seed {seed}: candidate run(s) not finished: {', '.join(unfinished)}")
    if auto_is_current(out, rule, dirs):
        doc = read_json(out / SELECTION_FILE)
        return AutoResult(pair.name, seed, out, doc["pick"], doc.get("runner_up"), reused=True,
                          members=tuple(doc.get("members") or [doc["pick"]]))
    label_free = {}
    for m, d in dirs.items():
        if on_scoring is not None and not (d / "scores.json").is_file():
            on_scoring(m)
        label_free[m] = run_label_free(d, pair)
    predictions = {m: np.asarray(v["target_predictions"]) for m, v in label_free.items()}
    conf = pair_confounding(pair, predictions)
    pick = apply_rule(rule, {m: v["scores"] for m, v in label_free.items()}, predictions, conf["max"])
    _write_auto(out, pair, recipe, seed, rule, dirs, pick, conf)
    return AutoResult(pair.name, seed, out, pick.label, pick.runner_up, reused=False, members=pick.members)


def pair_confounding(pair: Pair, predictions: dict[str, np.ndarray]) -> dict[str, float | None]:
    """The pair's speaker-class confounding: the source's from its labels, the target's from the majority vote of
    the candidates that do not normalise per speaker (no target label)."""
    plain = {m: p for m, p in predictions.items() if m not in speaker_normalised(list(predictions))}
    votes = majority_vote(plain) if plain else None
    return speaker_confounding(pair.source_speakers, pair.ys, pair.target_speakers, votes)


def _write_auto(out: Path, pair: Pair, recipe: Recipe, seed: int, rule: SelectionRule, dirs: dict[str, Path], pick,
                conf: dict) -> None:
    """selection.json, then the pick's predictions, metrics and config (config.json last: then it is finished)."""
    picked = dirs[pick.method]
    cfg = read_json(picked / "config.json")
    selection = {
        "cache_version": CACHE_VERSION, "sercross_version": __version__, "rule": rule.to_dict(),
        "candidates": {m: {"run_dir": str(d), "model_sha1": read_json(d / "config.json").get("model_sha1"),
                           "label_free": pick.table[m]} for m, d in dirs.items()},
        "pick": pick.label, "pick_rank": pick.rank, "runner_up": pick.runner_up,
        "runner_up_rank": pick.runner_up_rank, "confounding": conf, "pool": list(pick.pool),
        "members": list(pick.members), "note": "chosen without target labels (label-free scores only)",
    }
    for name in ("config.json", "metrics.json"):  # an interrupted write never looks finished
        (out / name).unlink(missing_ok=True)
    atomic_write_json(out / SELECTION_FILE, selection)
    about = {"method": AUTO, "picked": pick.label, "seed": seed}
    if len(pick.members) > 1:
        _write_combined(out, pair, [dirs[m] for m in pick.members], pick.combine, preset=recipe.tag, **about)
        where = {"member_run_dirs": [str(dirs[m]) for m in pick.members], "combine": pick.combine}
    else:
        atomic_write_bytes(out / "predictions.csv", (picked / "predictions.csv").read_bytes())
        atomic_write_json(out / "metrics.json", {**read_json(picked / "metrics.json"), **about})
        where = {"picked_run_dir": str(picked)}
    what = f"{pick.label} ({', '.join(pick.members)})" if len(pick.members) > 1 else f"picked {pick.label}"
    atomic_write_json(out / "config.json", {
        **cfg, **about, **where, "preset": recipe.tag, "recipe": recipe.to_dict(),
        "method_description": f"label-free selection among {len(dirs)} candidates; {what}",
    })


def _write_combined(out: Path, pair: Pair, members: list[Path], how: str, **about) -> None:
    """predictions.csv and metrics.json of the members' target class probabilities (their predictions.csv),
    combined ``how`` (:func:`sercross.selection.combine_outputs`)."""
    from sercross.experiments.evaluation import write_scored
    from sercross.infra import read_csv

    probs, files = [], None
    for d in members:
        rows = read_csv(d / "predictions.csv")
        names = [r["file"] for r in rows]
        if files is not None and names != files:
            raise RuntimeError(f"auto: the predictions in {d} list other target files than {members[0]}")
        files = names
        if rows and any(f"p_{c}" not in rows[0] for c in pair.classes):
            raise SercrossError(f"auto: the run in {d} stored no class probabilities, so it cannot be averaged",
                                hint="leave it out of the rule's candidates, or use a rule with average = 1")
        probs.append([[float(r[f"p_{c}"]) for c in pair.classes] for r in rows])
    write_scored(out, pair, *combine_outputs(probs, how), **about)


def select_all(plan, on_result: Callable[[AutoResult], None] | None = None,
               on_scoring: Callable[[str], None] | None = None) -> list[AutoResult]:
    """Every ``auto`` decision of a benchmark plan whose candidates are all finished (others are left missing)."""
    from sercross.experiments.pairs import load_pair

    results, pairs = [], {}
    for spec in plan.selections:
        dirs = plan.candidate_dirs(spec)
        if not all((d / "metrics.json").is_file() for d in dirs.values()):
            continue
        if spec.key not in pairs:
            pairs[spec.key] = load_pair(plan.cache, spec.key, feature_set=plan.feature_set)
        result = select_for_pair(pairs[spec.key], plan.recipe(spec), plan.run_dir(spec), dirs, spec.seed,
                                 plan.rule, on_scoring)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
