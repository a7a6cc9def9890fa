"""bf16 against fp32, paired by seed: the same run (scheme, method, preset, seed: the same initial weights, noise,
batch order and dropout masks) trained in both precisions, and the difference bf16 − fp32 of its target WAR and UAR.

For each preset and scheme: mean ± std over seeds in each precision, the mean paired difference with its 95 %
interval (Student's t on the n − 1 degrees of freedom of the differences) and the paired t-test, and whether the
issue's bar holds (|mean difference| ≤ 1 point and the interval inside ±1.5). Runs are read from the cache; with
``--train`` the missing ones are trained first, seed by seed (fp32 then bf16 on every scheme), so that an
interrupted comparison has whole pairs. A table with runs missing says so and gives the command
that finishes it.

On a CPU without native bf16, ``--emulate-matmuls`` trains the bf16 runs with bench/bf16_emulation.py (bf16
matmuls computed as fp32 matmuls of the bf16 values, rounded to bf16: bf16's rounding at fp32's speed, instead of
torch's reference loop, tens of times slower); each such run gets a file ``bf16_matmuls.txt`` that says so, and the
table counts them.

Usage:
  python bench/precision_compare.py --cache CACHE --schemes B:C,C:B,ravdess:emovo,emovo:casia --presets fast \
      --seeds 0-4 [--train [--emulate-matmuls]] --out bench/precision_accuracy.md
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import sys
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from bf16_emulation import Bf16MatmulsInFp32, check
from scipy import stats

from sercross.experiments import Reporter, plan_benchmark, run_benchmark
from sercross.infra import read_json
from sercross.methods import native_bf16

PRECISIONS = ("fp32", "bf16")
EMULATED = "bf16_matmuls.txt"  # in a bf16 run trained with --emulate-matmuls


class _Log(Reporter):
    def run_finished(self, spec, result) -> None:
        print(f"{result['status']} {spec.describe()} in {result.get('seconds', 0):.0f} s", file=sys.stderr, flush=True)


def _plan(cache: Path, schemes, method: str, preset: str, seeds, precision: str):
    return plan_benchmark(cache, schemes, methods=[method], seeds=seeds, preset=preset, precision=precision)


def collect(plans: dict) -> dict:
    """{(scheme, seed): {precision: (war, uar, {file: predicted label})}} of each precision's finished runs."""
    found: dict = {}
    for precision, plan in plans.items():
        for spec in plan.finished:
            rdir = plan.run_dir(spec)
            met = read_json(rdir / "metrics.json")
            with open(rdir / "predictions.csv", newline="") as f:
                predicted = {row["file"]: row["predicted"] for row in csv.DictReader(f)}
            found.setdefault((spec.scheme, spec.seed), {})[precision] = (100 * met["war"], 100 * met["uar"], predicted)
    return found


def agreement(pairs: list[dict]) -> str:
    """The share of target utterances predicted alike in both precisions: mean and range over the pairs."""
    shares = [100 * np.mean([p["bf16"][2].get(f) == label for f, label in p["fp32"][2].items()]) for p in pairs]
    if not shares:
        return "–"
    return f"{np.mean(shares):.2f} ({min(shares):.2f}–{max(shares):.2f})"


def emulated_runs(plans_by_preset: dict) -> tuple[int, int]:
    """(bf16 runs trained with emulated matmuls, finished bf16 runs)."""
    done = [plans["bf16"].run_dir(s) for plans in plans_by_preset.values() for s in plans["bf16"].finished]
    return sum((d / EMULATED).is_file() for d in done), len(done)


def train_pair(plans: dict, emulate: bool) -> None:
    """Train the missing runs of one seed: fp32, then bf16 (its matmuls emulated when asked)."""
    for precision, plan in plans.items():
        todo = [s for s in plan.runs if s not in plan.finished]
        mode = Bf16MatmulsInFp32() if emulate and precision == "bf16" else None
        # One single-threaded process, whatever the machine: the thread count changes the last bits. jobs=1 trains
        # in this process, so the emulation mode applies (forward and backward run on this thread).
        with mode if mode is not None else nullcontext():
            run_benchmark(plan, jobs=1, cores=1, scheduler="local", reporter=_Log())
        if mode is not None:
            if todo and mode.count == 0:
                raise SystemExit("--emulate-matmuls replaced no matmul: the bf16 runs did not train in this process")
            for spec in todo:
                (plan.run_dir(spec) / EMULATED).write_text(
                    "bf16 matmuls computed as fp32 matmuls of bf16 values, rounded to bf16 (bench/bf16_emulation.py, "
                    "bench/precision_compare.py --emulate-matmuls)\n")


def paired(fp32: list[float], bf16: list[float]) -> dict:
    """Mean difference bf16 − fp32, its 95 % interval and the paired t-test (n pairs)."""
    d = np.asarray(bf16) - np.asarray(fp32)
    n, mean = len(d), float(d.mean()) if len(d) else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "low": math.nan, "high": math.nan, "t": math.nan, "p": math.nan}
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se == 0:
        return {"n": n, "mean": mean, "low": mean, "high": mean, "t": math.nan, "p": 1.0 if mean == 0 else 0.0}
    half = float(stats.t.ppf(0.975, n - 1)) * se
    t = mean / se
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half, "t": t,
            "p": float(2 * stats.t.sf(abs(t), n - 1))}


def _ms(v: list[float]) -> str:
    a = np.asarray(v, float)
    return "–" if len(a) == 0 else f"{a.mean():.2f}" + (f" ± {a.std(ddof=1):.2f}" if len(a) > 1 else "")


def _diff(r: dict) -> str:
    if r["n"] == 0:
        return "–"
    if math.isnan(r["low"]):
        return f"{r['mean']:+.2f} (one pair)"
    return f"{r['mean']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]"


def _test(r: dict) -> str:
    if r["n"] < 2:
        return "–"
    return "identical" if math.isnan(r["t"]) and r["mean"] == 0 else f"t = {r['t']:.2f}, p = {r['p']:.2f}"


def _bar(r: dict, expected: int) -> str:
    if r["n"] < 2:
        return "not measured"
    ok = abs(r["mean"]) <= 1.0 and r["low"] >= -1.5 and r["high"] <= 1.5
    return ("yes" if ok else "no") + ("" if r["n"] == expected else f" ({r['n']} of {expected} pairs)")


def table(plans_by_preset: dict, seeds: list[int]) -> tuple[list[str], int]:
    """The markdown rows and the number of missing (scheme, seed, precision) runs."""
    out = ["| scheme | preset | pairs | WAR fp32 | WAR bf16 | ΔWAR bf16 − fp32 [95 % CI] | paired t (WAR) | "
           "UAR fp32 | UAR bf16 | ΔUAR [95 % CI] | paired t (UAR) | WAR within the bar | same prediction, % |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    missing = 0
    for preset, plans in plans_by_preset.items():
        found = collect(plans)
        for info in plans["fp32"].schemes:
            both = [found[(info.name, s)] for s in seeds if len(found.get((info.name, s), {})) == 2]
            missing += sum(2 - len(found.get((info.name, s), {})) for s in seeds)
            cells = [info.label, preset, f"{len(both)} of {len(seeds)}"]
            for k in (0, 1):
                a, b = [x["fp32"][k] for x in both], [x["bf16"][k] for x in both]
                r = paired(a, b)
                cells += [_ms(a), _ms(b), _diff(r), _test(r)]
                if k == 0:
                    bar = _bar(r, len(seeds))
            out.append("| " + " | ".join(cells + [bar, agreement(both)]) + " |")
    return out, missing


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--schemes", default="B:C,C:B")
    ap.add_argument("--presets", default="fast")
    ap.add_argument("--method", default="tlmlda")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--train", action="store_true", help="train the missing runs first (one process)")
    ap.add_argument("--emulate-matmuls", action="store_true",
                    help="with --train: bf16 matmuls as fp32 matmuls of bf16 values (for a CPU without native bf16)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    from sercross.cli.parsing import parse_schemes, parse_seeds

    schemes, seeds = parse_schemes(args.schemes), list(parse_seeds(args.seeds))
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]

    def plans_for(preset: str, wanted=seeds) -> dict:
        return {p: _plan(args.cache, schemes, args.method, preset, wanted, p) for p in PRECISIONS}

    if args.train:
        for preset in presets:
            for seed in seeds:  # pair by pair, so that an interrupted comparison has whole pairs
                train_pair(plans_for(preset, [seed]), args.emulate_matmuls)
    plans = {preset: plans_for(preset) for preset in presets}
    rows, missing = table(plans, seeds)
    native = native_bf16()
    n_emulated, n_bf16 = emulated_runs(plans)
    train = " --train" + (" --emulate-matmuls" if n_emulated or args.emulate_matmuls else "")
    command = (f"python bench/precision_compare.py --cache CACHE --schemes {args.schemes} --presets {args.presets} "
               f"--method {args.method} --seeds {args.seeds}")
    lines = [f"# bf16 against fp32, paired seeds ({args.method})", "",
             f"Made by `{command}{train} --out {args.out or 'FILE'}`. Target WAR/UAR in %, last epoch, target "
             "labels only score; mean ± sample std over the pairs; Δ = bf16 − fp32 per seed, its mean with the 95 % "
             "interval of Student's t on the differences, and the paired t-test. The bar (issue 21): |ΔWAR| ≤ 1 "
             "and its interval inside ±1.5. Same prediction: the share of target utterances given the same label "
             f"by both runs of a seed, mean (min–max) over the pairs. This machine: {native.reason}.", ""]
    if n_emulated:
        lines += [f"{n_emulated} of the {n_bf16} bf16 runs were trained with `--emulate-matmuls`: every bf16 matmul "
                  "computed as an fp32 matmul of the bf16 values, rounded to bf16 (bench/bf16_emulation.py): bf16's "
                  "rounding, with the fp32 products summed in another order than a native bf16 kernel would. Against "
                  "torch's own bf16 matmul on this machine (`bench/bf16_emulation.py`'s check, random N(0, 1) "
                  "inputs):", ""]
        lines += [f"- {r['op']} {r['shape'][0]}×{r['shape'][1]} · {r['shape'][1]}×{r['shape'][2]}: "
                  f"{100 * r['identical']:.3f} % of the elements bit-identical, the others at most {r['max_ulp']} "
                  "units in the last place apart" for r in check()] + [""]
    if missing:
        lines += [f"**Partial**: {missing} of {2 * len(seeds) * sum(len(p['fp32'].schemes) for p in plans.values())}"
                  " runs are missing (the pairs column says how many seeds each row has). To finish it: "
                  f"`nice -n 15 taskset -c 0 {command}{train} --out {shlex.quote(str(args.out or 'FILE'))}`.", ""]
    text = "\n".join(lines + rows) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
