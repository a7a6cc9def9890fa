"""Reverse-validation probe of TLMLDA+ variants: how TLMLDA+'s design was chosen without target labels.

Trains each variant once (seed 0, `fast` preset) on a scheme's source and unlabelled target and prints the
reverse-validation UAR (sercross.selection.reverse), the last epoch's source training accuracy and L_y. No target
label is read. A variant is ``METHOD[@THRESHOLD]`` (THRESHOLD: LMMD's pseudo-label confidence filter), where
METHOD is a sercross method or one of the probe's own: plus_nolmmd, plus_nommd, plus_noadapt (TLMLDA+ without
LMMD, without MMD, without either) and plus_allnorm (TLMLDA+ with every term divided by its running mean, as
round 1 did; with today's code it does not reproduce round 1's numbers, see bench/plus_variants_rv.md).

Usage:
  python bench/probe_plus_variants.py --cache CACHE --scheme berlin:casia --variants tlmlda_plus,plus_nolmmd
Results of the runs that shaped TLMLDA+: bench/plus_variants_rv.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from sercross.experiments import load_pair, scheme_key, split_scheme
from sercross.methods import DEFAULT_ALPHA, METHODS, TERM_NAMES, NetworkEstimator, get_preset
from sercross.selection import reverse_validation_of

PROBE_VARIANTS = {  # changes to TLMLDA+'s definition; terms: L_S, L_T, L_y, MMD, LMMD, CORAL, ADV, DIV
    "plus_nolmmd": {"terms": (True, True, True, True, False, False, False, True)},
    "plus_nommd": {"terms": (True, True, True, False, True, False, False, True)},
    "plus_noadapt": {"terms": (True, True, True, False, False, False, False, True)},
    "plus_allnorm": {"normalized_terms": TERM_NAMES},
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--scheme", default="berlin:casia")
    ap.add_argument("--variants", default="tlmlda_plus,plus_nolmmd,plus_nommd,plus_noadapt")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    source, target = split_scheme(args.scheme)
    pair = load_pair(args.cache, source, target, "IS10")
    methods = dict(METHODS)
    full = methods["tlmlda_plus"]
    methods.update({n: dataclasses.replace(full, name=n, **change) for n, change in PROBE_VARIANTS.items()})
    for variant in args.variants.split(","):
        name, _, threshold = variant.partition("@")
        spec = methods[name]  # a probe variant is a spec of its own: the registry stays as it is
        preset = get_preset("fast", monitor_target=False, threads=1, pseudo_threshold=float(threshold or 0))
        est = NetworkEstimator(spec, spec.configure(preset), spec.alpha or DEFAULT_ALPHA, random_state=args.seed)
        est.fit(pair.Xs, pair.ys, pair.Xt, n_classes=len(pair.classes))
        last = est.history_[-1]
        rv = reverse_validation_of(est, pair.Xs, pair.ys, pair.Xt, len(pair.classes))
        print(json.dumps({"scheme": scheme_key(source, target), "variant": variant, "rv": round(rv, 4),
                          "src_acc": last["source_train_acc"], "L_y": round(last["loss_L_y"], 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
