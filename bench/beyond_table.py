"""Issue-10 table: every method of a benchmark over its schemes, the unsupervised selection score, and the goal.

Reads ``<cache>/benchmarks/<name>/results.csv`` (written by ``sercross benchmark``). Prints, per method and
scheme, target WAR and UAR (mean ± sample std over seeds, last epoch) and their average over the schemes;
the mean reverse-validation UAR (no target label: sercross.selection.reverse); the held-in choice of TLMLDA+'s
options (an option is kept when removing it lowers the mean reverse-validation UAR on the held-in scheme);
and the goal: TLMLDA+ ≥ Only_cls + 3 and ≥ PCA+SVM + 3 on the average, never more than 1 point below Only_cls.

Usage:
  python bench/beyond_table.py --cache CACHE --name beyond --held-in berlin:casia --out bench/beyond.md
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from sercross.experiments import scheme_key, split_scheme
from sercross.infra import read_csv
from sercross.methods import METHODS


def _cell(v: list[float]) -> str:
    if not v:
        return "–"
    a = np.asarray(v) * 100
    return f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if len(a) > 1 else f"{a.mean():.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--name", default="beyond")
    ap.add_argument("--held-in", default="berlin:casia", help="scheme on which TLMLDA+'s options were chosen")
    ap.add_argument("--method", default="tlmlda_plus")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    rows = [r for r in read_csv(args.cache / "benchmarks" / args.name / "results.csv") if r["war"] not in ("", "None")]
    schemes = list(dict.fromkeys(scheme_key(r["source"], r["target"]) for r in rows))
    held_in = scheme_key(*split_scheme(args.held_in))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    res: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        cell = res[(r["method"], f"{r['source']}:{r['target']}")]
        cell["war"].append(float(r["war"]))
        cell["uar"].append(float(r["uar"]))
        if r.get("reverse_validation_uar") not in (None, "", "None"):
            cell["rv"].append(float(r["reverse_validation_uar"]))
    seeds = sorted({int(r["seed"]) for r in rows})
    preset = rows[0]["preset"] if rows else "?"
    heads = schemes
    out = [f"Benchmark `{args.name}`, preset `{preset}`, seeds {seeds}; target WAR/UAR in %, mean ± sample std "
           "over seeds, last epoch (target labels only score). Average = mean over the schemes of the seed means.",
           ""]
    for metric, title in (("war", "WAR"), ("uar", "UAR")):
        out += [f"### {title}", "", "| method | " + " | ".join(heads) + " | Average |",
                "|---|" + "---|" * (len(schemes) + 1)]
        for m in methods:
            cells = [res[(m, s)][metric] for s in schemes]
            avg = np.mean([np.mean(c) for c in cells if c]) * 100 if any(cells) else float("nan")
            out.append(f"| {m} | " + " | ".join(_cell(c) for c in cells) + f" | {avg:.2f} |")
        out.append("")
    out += ["### Reverse-validation UAR (no target label; what TLMLDA+'s options were chosen by)", "",
            "| method | " + " | ".join(heads) + " |", "|---|" + "---|" * len(schemes)]
    for m in methods:
        if METHODS[m].kind == "network":
            out.append(f"| {m} | " + " | ".join(_cell(res[(m, s)]["rv"]) for s in schemes) + " |")
    full = res[(args.method, held_in)]["rv"]
    ablations = [m for m in methods if m.startswith(f"{args.method}_no_")]
    if full and ablations:
        out += ["", f"Held-in choice on {held_in} (mean reverse-validation UAR; the other "
                "scheme(s) held out):"]
        for m in ablations:
            rv = res[(m, held_in)]["rv"]
            if rv:
                keep = np.mean(rv) < np.mean(full)
                out.append(f"- {m}: {100 * np.mean(rv):.2f} vs {100 * np.mean(full):.2f} with every option → option "
                           f"{'kept' if keep else 'not supported by the score'}")

    def avg(m: str, metric: str) -> float:
        return float(np.mean([np.mean(res[(m, s)][metric]) for s in schemes])) * 100

    if all(res[(m, s)]["war"] for m in (args.method, "only_cls", "pca_svm") for s in schemes):
        out += ["", "### Goal", ""]
        for metric in ("war", "uar"):
            d_cls, d_svm = avg(args.method, metric) - avg("only_cls", metric), avg(args.method, metric) - avg(
                "pca_svm", metric)
            out.append(f"- {metric.upper()}: {args.method} − only_cls = {d_cls:+.2f}, − pca_svm = {d_svm:+.2f} "
                       f"(goal ≥ +3 each: {'met' if min(d_cls, d_svm) >= 3 else 'not met'})")
        worst = min(np.mean(res[(args.method, s)]["war"]) - np.mean(res[("only_cls", s)]["war"]) for s in schemes)
        verdict = "met" if worst * 100 >= -1 else "not met"
        out.append(f"- worst pair, WAR − only_cls: {100 * worst:+.2f} (goal ≥ −1: {verdict})")
        spk = [m for m in ("only_cls_spk", "pca_svm_spk") if all(res[(m, s)]["war"] for s in schemes)]
        if spk:
            # Not part of the goal: how much of the gain the input normalisation alone brings.
            out += ["", "Against the same baselines on speaker-normalised inputs (what the adaptation terms add "
                    "beyond the normalisation):"]
            for metric in ("war", "uar"):
                out.append(f"- {metric.upper()}: " + ", ".join(
                    f"{args.method} − {m} = {avg(args.method, metric) - avg(m, metric):+.2f}" for m in spk))
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(f"Command: `python bench/beyond_table.py {' '.join(sys.argv[1:])}`\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
