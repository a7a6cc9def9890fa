"""The `paper` and `fast` presets side by side, from finished run folders of a cache.

For each scheme and preset: WAR and UAR on the target (mean ± sample std over seeds, last epoch; target
labels only score), the source-only numbers the fast preset was chosen by (reverse-validation UAR, last
epoch's source training accuracy), optimisation steps, model FLOPs relative to the paper preset, wall time
and peak memory of the training process.

Usage:
  python bench/preset_table.py --cache CACHE --schemes berlin:casia,casia:berlin --method tlmlda \
      --presets paper,fast --out bench/presets.md
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from sercross.experiments import load_estimator, load_pair, scheme_key, split_scheme
from sercross.infra import read_csv, read_json, run_dir, scheme_name
from sercross.selection import reverse_validation_of


def _ms(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    v = np.asarray(values, float) * scale
    if len(v) == 0:
        return "–"
    sd = f" ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else ""
    return f"{v.mean():.{digits}f}{sd}"


def _difference(b: np.ndarray, a: np.ndarray) -> str:
    """mean(b) − mean(a), with its standard error and Welch's 95 % interval when both have two seeds or more."""
    diff = b.mean() - a.mean()
    if min(len(a), len(b)) < 2:
        return f"{diff:+.2f}"
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return f"{diff:+.2f} (SE 0)"
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, dof) * se
    return f"{diff:+.2f} (SE {se:.2f}; 95 % interval {diff - half:+.2f} to {diff + half:+.2f})"


def collect(cache: Path, source: str, target: str, method: str, preset: str, seeds: list[int]) -> dict | None:
    rows = []
    for seed in seeds:
        rdir = run_dir(cache, scheme_name(source, target), method, preset, seed)
        if not (rdir / "metrics.json").is_file():
            continue
        cfg, met = read_json(rdir / "config.json"), read_json(rdir / "metrics.json")
        hist = read_csv(rdir / "history.csv")
        rows.append({"cfg": cfg, "met": met, "last": hist[-1], "epochs": len(hist)})
    if not rows:
        return None
    pair = load_pair(cache, source, target, rows[0]["cfg"]["feature_set"])
    train = rows[0]["cfg"]["train"]
    steps = train["epochs"] * math.ceil(max(len(pair.ys), len(pair.yt)) / train["batch_size"])
    rv = []
    for r in rows:
        score = r["cfg"].get("reverse_validation_uar")
        if score is None:  # runs trained before the score was recorded: compute it from the stored model
            est = load_estimator(run_dir(cache, scheme_name(source, target), method, preset, r["cfg"]["seed"]))
            score = reverse_validation_of(est, pair.Xs, pair.ys, pair.Xt, len(pair.classes))
        rv.append(score)
    return {
        "seeds": len(rows), "steps": steps, "train": train,
        "war": [r["met"]["war"] for r in rows], "uar": [r["met"]["uar"] for r in rows],
        "rv": rv, "src_acc": [float(r["last"]["source_train_acc"]) for r in rows],
        "seconds": [r["cfg"]["train_seconds"] for r in rows],
        "rss": max(r["cfg"].get("peak_rss_mb") or 0 for r in rows),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--schemes", default="berlin:casia,casia:berlin")
    ap.add_argument("--method", default="tlmlda")
    ap.add_argument("--presets", default="paper,fast")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    presets = args.presets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [
        f"Method `{args.method}`; target WAR/UAR in %, mean ± sample std over seeds, last epoch. Reverse-validation "
        "UAR and source train accuracy use no target label. FLOPs relative to the first preset (same network, "
        "same batch: proportional to steps).",
        "",
        "| scheme | preset | lr, schedule, epochs, batch | seeds | WAR | UAR | reverse-val. UAR (source-only) "
        "| source train acc | steps | FLOPs | wall time / run (s) | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    wars: dict[tuple[str, str], np.ndarray] = {}
    schemes = [scheme_key(*split_scheme(s)) for s in args.schemes.split(",")]
    for scheme in schemes:
        source, target = split_scheme(scheme)
        base_steps = None
        for preset in presets:
            r = collect(args.cache, source, target, args.method, preset, seeds)
            if r is None:
                lines.append(f"| {source}→{target} | {preset} | | 0 | – | – | – | – | – | – | – | – |")
                continue
            base_steps = base_steps or r["steps"]
            t = r["train"]
            wars[(scheme, preset)] = np.asarray(r["war"], float) * 100
            lines.append(
                f"| {source}→{target} | {preset} | {t['lr']:g}, {t.get('lr_schedule', 'constant')}, {t['epochs']}, "
                f"{t['batch_size']} | {r['seeds']} | {_ms(r['war'])} | {_ms(r['uar'])} | {_ms(r['rv'])} | "
                f"{_ms(r['src_acc'], digits=1)} | {r['steps']} | 1/{base_steps / r['steps']:.0f} | "
                f"{_ms(r['seconds'], 1, 0)} | {r['rss']:.0f} |"
            )
    a = presets[0]
    for b in presets[1:]:
        lines += ["", f"WAR difference {b} − {a} (mean of seeds, points; in brackets the standard error of the "
                  "difference and Welch's 95 % interval, which say how much of it the seeds alone could explain):"]
        for scheme in schemes:
            if (scheme, a) in wars and (scheme, b) in wars:
                lines.append(f"- {scheme}: {_difference(wars[(scheme, b)], wars[(scheme, a)])}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(f"Command: `python bench/preset_table.py {' '.join(sys.argv[1:])}`\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
