"""pair, train and evaluate: a source → target pair, a run trained on it, and its scores on the target."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from sercross.cli.common import Settings, err, for_corpora, out, read_classes, settings
from sercross.cli.extract_cmds import run_extraction
from sercross.cli.options import (
    ClassesOpt,
    FeaturesOpt,
    ForceOpt,
    MethodOpt,
    RunArg,
    SeedOpt,
    SourceOpt,
    TargetOpt,
    TargetSetOpt,
    ThreadsOpt,
)
from sercross.cli.parsing import parse_classes
from sercross.cli.recipe_flags import RecipeFlags, with_recipe_flags
from sercross.cli.run_output import show_incorpus, show_metrics, train_with_progress
from sercross.infra import SercrossError


def _tables(s: Settings, source: str, target: str, feature_set: str):
    """The source's table (a list of tables for several sources a+b+c) and the target's."""
    from sercross.corpora import load_manifest
    from sercross.experiments import features_or_extract, split_sources

    names = [*split_sources(source), target]
    manifests = [load_manifest(name, s.cache) for name in names]  # every name checked before any work
    tables = [
        features_or_extract(s.cache, m, feature_set, lambda m, r: run_extraction(s, m, r, feature_set, None))
        for m in manifests
    ]
    sources = tables[:-1]
    if len(sources) > 1:
        err.print(f"{len(sources)} sources: their union is the source domain (each scaled on its own); default "
                  "classes: those the target and every source share", highlight=False)
    return (sources[0] if len(sources) == 1 else sources), tables[-1]


def _pair(s: Settings, src, tgt, classes: tuple[str, ...] | None, force: bool = False, target_set: str = "shared"):
    """pair_for, saying so when the default pair is rebuilt on another class set or an older one moves aside."""
    from sercross.experiments import pair_for

    def replaced(old, new) -> None:
        err.print(
            f"[yellow]note[/]: the default class set of {new.key.scheme} changed with the features, from "
            f"{', '.join(old.classes)} to {', '.join(new.classes)}: runs trained on the old pair are out of date "
            "(`train` and `benchmark` train them again when asked for, `evaluate` refuses them).",
            highlight=False,
        )

    def note(text: str) -> None:
        err.print(f"[yellow]note[/]: {escape(text)}", highlight=False)

    return pair_for(s.cache, src, tgt, classes, force=force, on_replace=replaced, on_note=note,
                    target_set=target_set)


def pair(
    ctx: typer.Context,
    source: SourceOpt,
    target: TargetOpt,
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
    target_set: TargetSetOpt = "shared",
) -> None:
    """Build the label-aligned source/target pair, each corpus min-max scaled to [0,1] on its own."""

    s = for_corpora(settings(ctx), source, target)
    chosen = parse_classes(classes)
    manifests = _manifests(s, source, target)
    read_classes(chosen, *manifests)  # a misspelt class is refused before any extraction
    src, tgt = _tables(s, source, target, features)
    p = _pair(s, src, tgt, read_classes(chosen, *manifests, *_as_list(src), tgt), force=True, target_set=target_set)
    out.print(
        f"pair {p.name}: classes {', '.join(p.classes)} ({len(p.classes)}, chance {100 / len(p.classes):.2f} %); "
        f"{len(p.ys)} source and {len(p.yt)} target utterances",
        highlight=False,
    )
    _say_target_set(p)
    out.print(f"written to {p.key.pair_dir(s.cache, p.feature_set)}", highlight=False)


def _say_target_set(p) -> None:
    if p.Xu is not None:
        out.print(f"target set all: the methods see all {len(p.Xu)} target utterances unlabelled; the "
                  f"{len(p.yt)} of the pair's classes are scored", highlight=False)


def _as_list(tables) -> list:
    """A source's table(s) as a list (several sources a+b+c give several)."""
    return list(tables) if isinstance(tables, (list, tuple)) else [tables]


def _manifests(s: Settings, source: str, target: str) -> list:
    """The manifests of every source corpus (``a+b+c``) and of the target: each name checked before any work."""
    from sercross.corpora import load_manifest
    from sercross.experiments import split_sources

    return [load_manifest(n, s.cache) for n in (*split_sources(source), target)]


@with_recipe_flags
def train(
    ctx: typer.Context,
    source: SourceOpt,
    target: TargetOpt,
    method: MethodOpt = "tlmlda",
    flags: RecipeFlags = RecipeFlags(),
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
    force: ForceOpt = False,
    target_set: TargetSetOpt = "shared",
) -> None:
    """Train a method on source → target (extracting/pairing what the cache lacks) and score it on the target."""
    from dataclasses import replace

    from sercross.experiments import run_state

    s = for_corpora(settings(ctx), source, target)
    recipe = flags.recipe(method, features)
    chosen = parse_classes(classes)
    manifests = _manifests(s, source, target)
    read_classes(chosen, *manifests)  # a misspelt class is refused before any extraction
    src, tgt = _tables(s, source, target, features)
    p = _pair(s, src, tgt, read_classes(chosen, *manifests, *_as_list(src), tgt), target_set=target_set)
    _say_target_set(p)
    if recipe.spec.kind == "auto":
        from sercross.cli.auto_cmds import train_auto

        return train_auto(s, p, recipe, seed, force)
    run_seed = recipe.run_seed(seed)
    if run_seed != seed:
        err.print(f"{recipe.method} does not depend on the seed: its run of seed {run_seed} serves seed {seed}",
                  highlight=False)
    rdir = p.key.run_dir(s.cache, recipe.method, recipe.tag, run_seed)
    cfg = replace(recipe.config, threads=threads) if threads else recipe.config
    # Reuse only a run of this very pair (classes, features), method definition and configuration.
    state = run_state(rdir, p.meta.get("fingerprint"), recipe.method, recipe.tag, run_seed, cfg, spec=recipe.spec)
    if state == "finished" and not force:
        err.print(f"run already finished in {rdir} (use --force to train again)", highlight=False)
    else:
        if state not in ("new", "finished"):
            err.print(f"[yellow]training again[/]: the run in {escape(str(rdir))} is out of date ({escape(state)})",
                      highlight=False)
        train_with_progress(s.cache, p, recipe.spec, recipe.tag, cfg, run_seed, recipe.to_dict())
    show_metrics(rdir)


@with_recipe_flags
def evaluate(
    ctx: typer.Context,
    run: RunArg = None,
    source: SourceOpt = None,
    target: TargetOpt = None,
    method: MethodOpt = "tlmlda",
    flags: RecipeFlags = RecipeFlags(),
    seed: SeedOpt = 0,
    classes: ClassesOpt = None,
    features: FeaturesOpt = "IS10",
    target_set: TargetSetOpt = "shared",
) -> None:
    """Score a trained run on its target: WAR, UAR, per-class recall, confusion (metrics.json, predictions.csv).

    Give the run folder, or the options `train` was given (--source, --target, --classes, --method, --preset, --seed,
    the changed settings and --features). In a read-only cache the metrics stored with the run are shown, not
    rewritten.
    """
    from sercross.experiments import evaluate_run, load_pair, read_run_config
    from sercross.experiments.incorpus import INCORPUS_LABEL

    s = for_corpora(settings(ctx), source, target)
    if run is None:
        run = _find_run(s, source, target, method, flags, seed, classes, features, target_set)
    cfg = read_run_config(run)
    if cfg.get("protocol") == INCORPUS_LABEL:  # scored when it was made: nothing to evaluate again
        return show_incorpus(run)
    if not _writable(run):
        if not (run / "metrics.json").is_file():
            raise SercrossError(f"cannot write to {run}, and the run has no stored metrics.json to show",
                                hint="evaluate it in a writable copy of the cache (--cache DIR)")
        err.print(f"[yellow]note[/]: cannot write to {escape(str(run))}: these are the metrics stored with the run, "
                  "not recomputed or rewritten", highlight=False)
        show_metrics(run)
        return
    from sercross.experiments.commands import run_key

    p = load_pair(s.cache, run_key(cfg), feature_set=cfg["feature_set"])
    evaluate_run(run, p)
    show_metrics(run)
    out.print(f"wrote {run / 'metrics.json'} and {run / 'predictions.csv'}", highlight=False)


def _find_run(s: Settings, source, target, method, flags: RecipeFlags, seed, classes, features,
              target_set: str = "shared") -> Path:
    """The run folder the options name; if it has no finished run, an error with the commands that work."""
    from sercross.corpora import load_manifest
    from sercross.experiments import corpus_name, join_sources, split_sources, stored_key
    from sercross.experiments.commands import pair_options, recipe_command, run_command
    from sercross.infra import read_json
    from sercross.methods import PRESETS

    if not (source and target):
        raise SercrossError("give a run folder or --source and --target", hint="see `sercross evaluate --help`")
    sources = [corpus_name(n, s.cache) for n in split_sources(source)]
    source, target = join_sources(sources), corpus_name(target, s.cache)
    chosen = read_classes(parse_classes(classes), *(load_manifest(n, s.cache) for n in (*sources, target)))
    key = stored_key(s.cache, source, target, features, chosen, target_set)
    if flags.preset in PRESETS:
        recipe = flags.recipe(method, features)
        method, tag, seed = recipe.method, recipe.tag, recipe.run_seed(seed)
    else:  # a run's whole tag
        tag = flags.preset
    rdir = key.run_dir(s.cache, method, tag, seed)
    if (rdir / "config.json").is_file():
        return rdir
    found = sorted(p.parent for p in rdir.parent.glob("*/config.json"))
    if found:
        cmds = "; ".join(f"`{run_command(read_json(p / 'config.json'), 'evaluate')}`" for p in found[:6])
        raise SercrossError(f"no run of {method} on {key.name} with tag {tag} and seed {seed} in {s.cache}",
                            hint=f"its finished runs: {cmds}" + (" …" if len(found) > 6 else ""))
    others = sorted({p.parent.name for p in (s.cache / "runs" / key.dirname).glob("*/*/config.json")})
    what = f"no run of {method} on {key.name} in {s.cache}"
    if flags.preset in PRESETS:
        hint = f"train it: `{recipe_command(key, recipe, seed)}`"
    else:
        hint = f"train it with `sercross train {' '.join(pair_options(key))} --method {method}` and the preset and " \
               f"settings of tag {tag}"
    if others:
        hint += f"; runs of other methods there: {', '.join(others)}"
    raise SercrossError(what, hint=hint)


def _writable(folder: Path) -> bool:
    from sercross.infra import ensure_writable_dir

    try:
        ensure_writable_dir(folder)
    except SercrossError:  # read-only file system or no permission
        return False
    return True
