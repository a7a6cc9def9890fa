"""``sercross incorpus``: the in-corpus reference of a corpus (speaker-independent cross-validation inside it)."""

from __future__ import annotations

import typer

from sercross.cli.common import err, out, read_classes, settings
from sercross.cli.options import ClassesOpt, CorpusArg, FeaturesOpt, MethodsOpt, PresetOpt, SeedsOpt
from sercross.cli.parsing import parse_classes, parse_seeds
from sercross.infra import SercrossError


def incorpus(
    ctx: typer.Context,
    corpus: CorpusArg,
    classes: ClassesOpt = None,
    methods: MethodsOpt = "only_cls,pca_svm",
    seeds: SeedsOpt = "1",
    preset: PresetOpt = "fast",
    features: FeaturesOpt = "IS10",
) -> None:
    """Speaker-independent cross-validation inside one corpus: the ceiling a cross-corpus result is compared with.

    Leave-one-speaker-out up to 10 speakers, else speaker-grouped 5-fold; each fold min-max scaled on its training
    speakers. Methods: only_cls and pca_svm (and their _spk forms). Default classes: every class of the corpus.
    Stored like runs, in <cache>/runs/CORPUS__CORPUS[~classes]/METHOD/PRESET-seedK/ (metrics.json: WAR and UAR
    as the mean over folds, and per fold).
    """
    from rich.table import Table

    from sercross.experiments import INCORPUS_METHODS, corpus_name, incorpus_scheme, reference_rows
    from sercross.features import load_features
    from sercross.methods import get_preset, preset_tag

    s = settings(ctx)
    name = corpus_name(corpus, s.cache)
    table = load_features(s.cache, name, features)
    chosen = read_classes(parse_classes(classes), table) or tuple(sorted(set(table.emotions) - {""}))
    method_list = tuple(m.strip() for m in (methods or "").split(",") if m.strip())
    bad = [m for m in method_list if m not in INCORPUS_METHODS]
    if bad or not method_list:
        raise SercrossError(f"no in-corpus reference for {', '.join(bad) or 'no method'}",
                            hint=f"choose among {', '.join(INCORPUS_METHODS)}")
    seed_list = parse_seeds(seeds, default=1)
    config, tag = get_preset(preset), preset_tag(preset, None, None, None)

    def on_run(c, m, seed) -> None:
        err.print(f"in-corpus reference {m} {c} seed {seed}", highlight=False)

    rows = reference_rows(s.cache, {name: table}, [(incorpus_scheme(name), name, chosen)], method_list, seed_list,
                          tag, config, on_run)
    t = Table(title=f"{incorpus_scheme(name)}: classes {', '.join(chosen)}; preset {tag}", header_style="bold")
    for col in ("method", "seed", "folds", "WAR %", "UAR %", "run folder"):
        t.add_column(col)
    for r in rows:
        if r["status"] != "done":
            t.add_row(r["method"], str(r["seed"]), "", "failed", r["error"], "")
            continue
        t.add_row(r["method"], str(r["seed"]), r["folds"], f"{100 * r['war']:.2f}", f"{100 * r['uar']:.2f}",
                  r["run_dir"])
    out.print(t)
    if any(r["status"] != "done" for r in rows):
        raise typer.Exit(1)
