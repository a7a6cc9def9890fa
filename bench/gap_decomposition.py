"""The gap between TLMLDA as the paper writes it and the paper's numbers, decomposed: the paper's text (preset
``paper``), then each place where the authors' public code differs switched on alone, then all of them (preset
``authors-code``); every row at the last epoch (our protocol) and, separately labelled, at the oracle epoch (the
best epoch measured on the target test set, which is how the authors' code reports); beside the paper's numbers,
with PCA+SVM as the fixed reference (it has no epochs and ignores these settings).

The differences (docs/protocol.md, "Where the authors' code differs"), as TrainConfig settings:

  bce_mean      reconstruction: binary cross-entropy averaged over utterances and features (nn.BCELoss()), not
                squared error summed over the 1582 features
  noise_scale   input noise 0.6·N(0, 1), not N(0, 1)
  noise_shared  one noise vector per step, added to every utterance of both batches, not one value per input
  epoch_weights eq. 6's weights from the previous epoch's mean losses, not from the current step's
  batch_minmax  every training batch min-max scaled on its own (the test set as a whole, as ours)
  adam_reset    a new Adam optimizer every epoch (its moment estimates start again)
  network       no dropout on the code (encoder's last layer), batch-norm after the DNN's first layer

Runs are ordinary run folders, each the run ``sercross train --preset PRESET --set …`` makes with the row's settings
(tagged by them, e.g. ``paper_recon_loss-bce_mean``; ``authors-code`` for all of them on the paper preset), trained
with ``--train`` (``--jobs`` single-threaded processes; a paper-preset run takes about 11 minutes of one idle core)
and resumed like a benchmark. Tables list what is finished and say what is missing.

Usage:
  python bench/gap_decomposition.py --cache CACHE --preset paper --seeds 0-4 [--rows ...] [--train --jobs 2] \
      --out bench/gap_decomposition.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sercross.experiments import Recipe, Reporter, collect_results, plan_grid, run_benchmark
from sercross.experiments.paper import PAPER_SCHEME_NAMES, PAPER_TABLE3, PAPER_TABLE4
from sercross.methods import PRESETS, get_preset

DIFFERENCES: dict[str, tuple[str, dict]] = {
    "bce_mean": ("BCE reconstruction, mean over utterances and features", {"recon_loss": "bce_mean"}),
    "noise_scale": ("input noise 0.6·N(0,1)", {"noise_std": 0.6}),
    "noise_shared": ("one noise vector per step for every utterance", {"noise_shared": True}),
    "epoch_weights": ("weights from the previous epoch's mean losses", {"weight_update": "epoch"}),
    "batch_minmax": ("min-max scaling per training batch", {"batch_minmax": True}),
    "adam_reset": ("Adam restarted every epoch", {"adam_reset": True}),
    "network": ("no dropout on the code, batch-norm in the DNN", {"code_dropout": False, "dnn_batchnorm": True}),
}
ALL = "all"


def all_overrides() -> dict:
    out: dict = {}
    for _, over in DIFFERENCES.values():
        out.update(over)
    return out


def rows_for(preset: str, epochs: int | None, names: list[str]) -> list[tuple[str, Recipe]]:
    """(row name, TLMLDA's recipe): as written, each difference asked for, then all of them. Each is a run as
    ``sercross train --preset PRESET [--epochs N] --set …`` makes it (its tag names the settings); all of them on
    ``paper`` is the ``authors-code`` preset, and shares its run folders with ``sercross train --preset
    authors-code``."""
    short = {} if epochs is None else {"epochs": epochs}
    rows = [("as written", Recipe.build("tlmlda", preset, short))]
    rows += [(name, Recipe.build("tlmlda", preset, {**short, **DIFFERENCES[name][1]})) for name in names]
    every = (Recipe.build("tlmlda", "authors-code", short) if preset == "paper"
             else Recipe.build("tlmlda", preset, {**short, **all_overrides()}))
    return rows + [(ALL, every)]


def row_plan(cache: Path, schemes, seeds, recipe: Recipe, with_pca: bool):
    """The grid of one row: TLMLDA with ``recipe`` (and PCA + SVM, the fixed reference) on the schemes and seeds,
    with its finished runs found."""
    recipes = {"tlmlda": recipe}
    if with_pca:
        recipes["pca_svm"] = Recipe.build("pca_svm", recipe.preset)
    return plan_grid(cache, recipes, schemes, False, seeds)


class _Log(Reporter):
    def run_finished(self, spec, result) -> None:
        print(f"{result['status']} {spec.describe()} in {result.get('seconds', 0):.0f} s", file=sys.stderr, flush=True)


def _cell(values: list[float]) -> str:
    v = np.asarray(values, float) * 100
    if len(v) == 0:
        return "–"
    return f"{v.mean():.2f}" + (f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else "")


def _delta(values: list[float], base: list[float]) -> str:
    return "" if not values or not base else f" ({100 * (np.mean(values) - np.mean(base)):+.2f})"


def _paper(table: dict, row: str, scheme: str) -> str:
    return f"{table[row][PAPER_SCHEME_NAMES.index(scheme)]:.2f}" if scheme in PAPER_SCHEME_NAMES else "–"


def render(results: dict, schemes: list, seeds: list[int], preset: str, command: str) -> str:
    """``results``: row -> (tag, rows of collect_results)."""
    labels = [s.label for s in schemes]
    n_seeds = f"{len(seeds)} seed" + ("s" if len(seeds) != 1 else "")
    out = [f"# The gap to the paper, decomposed ({preset} preset, tlmlda, {n_seeds})", "",
           f"Made by `{command}`. Target WAR in %, mean ± sample std over seeds; in brackets the change from the "
           "row *as written*. **Last epoch** is our protocol. **Oracle epoch** is the best epoch measured on the "
           "target test set (history.csv's monitoring column): how the authors' code reports, an oracle that uses "
           "target labels to choose, shown only to size its part of the gap. Differences: docs/protocol.md.", ""]
    missing = 0
    for kind, key in (("last epoch (our protocol)", "war"), ("ORACLE epoch (best on the target test set)",
                                                             "oracle_war")):
        out += [f"## WAR, {kind}", "", "| row | tag | " + " | ".join(labels) + " |",
                "|---|---|" + "---|" * len(labels)]
        base = {}
        for row, (tag, rows) in results.items():
            cells = []
            for s in schemes:
                vals = [r[key] for r in rows if r["scheme"] == s.name and r["method"] == "tlmlda"
                        and r[key] is not None]
                missing += (len(seeds) - len(vals)) if key == "war" else 0
                base.setdefault(s.name, vals)
                n = "" if len(vals) == len(seeds) else f" ({len(vals)}/{len(seeds)})"
                cells.append(_cell(vals) + ("" if row == "as written" else _delta(vals, base[s.name])) + n)
            out.append(f"| {row} | `{tag}` | " + " | ".join(cells) + " |")
        out.append("| paper, TLMLDA (Table 3) | | " + " | ".join(_paper(PAPER_TABLE3, "TLMLDA", s.name)
                                                          for s in schemes) + " |")
        out.append("")
    pca = results["as written"][1]
    out += ["## Fixed reference: PCA + SVM (no epochs, no network settings)", "",
            "| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels),
            "| ours, WAR | " + " | ".join(_cell([r["war"] for r in pca if r["scheme"] == s.name and r["method"]
                                                 == "pca_svm" and r["war"] is not None]) for s in schemes) + " |",
            "| paper (Table 4) | " + " | ".join(_paper(PAPER_TABLE4, "PCA + SVM", s.name) for s in schemes) + " |",
            ""]
    if missing:
        out.insert(4, f"**Partial**: {missing} TLMLDA runs are missing (cells show n/N seeds). To finish: "
                   f"`{command.replace(' --out', ' --train --out')}`.\n")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--schemes", default="B:C,C:B")
    ap.add_argument("--preset", default="paper", choices=[p for p in PRESETS if p != "authors-code"])
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--epochs", type=int, help="override the preset's epochs (a quick check, not a result)")
    ap.add_argument("--rows", default=",".join(DIFFERENCES), help="differences switched on alone (comma-separated)")
    ap.add_argument("--train", action="store_true", help="train the missing runs first")
    ap.add_argument("--jobs", type=int, default=1, help="single-threaded training processes")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    from sercross.cli.parsing import parse_schemes, parse_seeds

    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    unknown = [n for n in names if n not in DIFFERENCES]
    if unknown:
        ap.error(f"unknown rows {unknown}; choose among {', '.join(DIFFERENCES)}")
    if args.preset == "paper" and get_preset("authors-code") != get_preset("paper", **all_overrides()):
        raise SystemExit("the authors-code preset is not the paper preset with every difference on")
    seeds = list(parse_seeds(args.seeds))
    schemes = parse_schemes(args.schemes)
    recipes = dict(rows_for(args.preset, args.epochs, names))
    plans = {row: row_plan(args.cache, schemes, seeds, recipe, row == "as written") for row, recipe in recipes.items()}
    if args.train:
        for row, plan in plans.items():
            run_benchmark(plan, jobs=args.jobs, cores=args.jobs, reporter=_Log())
            plans[row] = row_plan(args.cache, schemes, seeds, recipes[row], row == "as written")  # now finished
    results = {row: (recipes[row].tag, collect_results(plan)) for row, plan in plans.items()}
    base = plans["as written"]
    epochs = "" if args.epochs is None else f" --epochs {args.epochs}"
    command = (f"python bench/gap_decomposition.py --cache CACHE --schemes {args.schemes} --preset {args.preset}"
               f"{epochs} --seeds {args.seeds} --rows {args.rows} --out {args.out or 'FILE'}")
    text = render(results, base.schemes, seeds, base.tag, command)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
