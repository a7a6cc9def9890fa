"""A benchmark's plan: which schemes can run, the grid of runs (schemes × methods × seeds), which are finished.

A benchmark is a plain list of runs, each of which is an ordinary run folder
(``<cache>/runs/<source>__<target>/<method>/<preset>-seed<k>/``, written by
:func:`sercross.experiments.runs.train_run`).
A run whose ``metrics.json`` exists and whose ``config.json`` matches what the grid would train (same pair,
method, preset tag, seed and training configuration, the torch thread count aside) is finished and never
trained again, so an interrupted benchmark resumes by running the same command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path

from sercross.corpora import load_manifest
from sercross.experiments.auto import AUTO, trained_methods
from sercross.experiments.pairs import PAPER_CLASSES, default_classes
from sercross.experiments.resolve import corpus_name, features_or_extract, pair_for
from sercross.experiments.runs import run_state
from sercross.experiments.schemes import PAPER_SCHEMES, scheme_key, scheme_label
from sercross.features import DEFAULT_FEATURE_SET, FeatureTable, check_feature_set, load_features
from sercross.infra import SercrossError, features_dir, run_dir
from sercross.methods import PAPER_METHODS, TrainConfig, get_method, get_preset, preset_tag
from sercross.selection import DEFAULT_RULE, SelectionRule

# A scheme outside the paper's three pairs needs at least this many shared classes.
MIN_SHARED_CLASSES = 3


@dataclass(frozen=True)
class RunSpec:
    source: str
    target: str
    method: str
    seed: int

    @property
    def scheme(self) -> str:
        return scheme_key(self.source, self.target)

    def describe(self) -> str:
        return f"{self.method} {scheme_label(self.source, self.target)} seed {self.seed}"


@dataclass(frozen=True)
class Skip:
    scheme: str  # as asked for, e.g. "E:B" or "enterface:berlin"
    reason: str


@dataclass
class SchemeInfo:
    source: str
    target: str
    classes: tuple[str, ...]
    n_source: int
    n_target: int
    pair_fingerprint: str | None

    @property
    def name(self) -> str:
        return scheme_key(self.source, self.target)

    @property
    def label(self) -> str:
        return scheme_label(self.source, self.target)


@dataclass
class Plan:
    cache: Path
    feature_set: str
    preset: str
    tag: str
    config: TrainConfig
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    schemes: list[SchemeInfo]
    skipped: list[Skip]
    runs: list[RunSpec]  # the runs to train (auto's candidates included; auto itself trains nothing)
    finished: set[RunSpec] = field(default_factory=set)  # already in the cache, not trained again
    stale: dict[RunSpec, str] = field(default_factory=dict)  # a run folder exists but does not match
    rule: SelectionRule = DEFAULT_RULE  # what auto trains and how it picks

    @property
    def todo(self) -> list[RunSpec]:
        return [r for r in self.runs if r not in self.finished]

    @property
    def selections(self) -> list[RunSpec]:
        """The ``auto`` decisions of the grid, one per scheme and seed, made once its candidates are trained."""
        if AUTO not in self.methods:
            return []
        return [RunSpec(i.source, i.target, AUTO, s) for s in self.seeds for i in self.schemes]

    def run_dir(self, spec: RunSpec) -> Path:
        return run_dir(self.cache, spec.source, spec.target, spec.method, self.tag, spec.seed)


def plan_benchmark(
    cache: Path,
    schemes: Sequence[tuple[str, str]] | None = None,
    all_pairs: bool = False,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    preset: str = "paper",
    epochs: int | None = None,
    feature_set: str = DEFAULT_FEATURE_SET,
    extract: Callable | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    precision: str = "fp32",
    rule: SelectionRule = DEFAULT_RULE,
) -> Plan:
    """Resolve schemes to pairs (extracting and pairing what the cache lacks), list the runs, find finished ones.

    ``schemes``: ``(source, target)`` corpus names or aliases; default: the paper's six. ``methods``: method
    names (default: the paper's). ``precision``: fp32 or bf16, as resolved (``methods.resolve_precision``). A
    scheme that cannot run (unknown corpus, no features and no root, too few shared classes, …) is skipped with its
    reason in ``Plan.skipped``.
    """
    cache = Path(cache)
    check_feature_set(feature_set)
    methods = tuple(methods) if methods else PAPER_METHODS
    for m in methods:
        get_method(m)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise SercrossError("no seed to run", hint="give --seeds 5 or --seeds 0,1")
    config = get_preset(preset, epochs=epochs, lr=lr, batch_size=batch_size, precision=precision)
    tag = preset_tag(preset, epochs, lr, batch_size, precision)

    wanted: list[tuple[str, str]] = list(schemes or [])
    if all_pairs:
        wanted += list(permutations(corpora_with_features(cache, feature_set), 2))
    if not wanted and not all_pairs:
        wanted = list(PAPER_SCHEMES)
    infos, skipped = _SchemeResolver(cache, feature_set, extract).resolve(wanted)
    return plan_runs(cache, infos, methods, seeds, preset, tag, config, feature_set, rule, skipped)


def scheme_of(pair) -> SchemeInfo:
    """The plan's view of a pair that is already built."""
    return SchemeInfo(pair.source, pair.target, pair.classes, len(pair.ys), len(pair.yt), pair.meta.get("fingerprint"))


def plan_runs(cache: Path, infos: list[SchemeInfo], methods: Sequence[str], seeds: Sequence[int], preset: str,
              tag: str, config: TrainConfig, feature_set: str = DEFAULT_FEATURE_SET,
              rule: SelectionRule = DEFAULT_RULE, skipped: list[Skip] | None = None) -> Plan:
    """The grid of runs on pairs that exist (``infos``), with the finished and stale ones found in the cache."""
    methods = tuple(dict.fromkeys([*trained_methods(methods, rule), *(m for m in methods if m == AUTO)]))
    runs = [RunSpec(i.source, i.target, m, s) for s in seeds for i in infos for m in methods if m != AUTO]
    plan = Plan(cache, feature_set, preset, tag, config, methods, tuple(seeds), infos, list(skipped or []), runs,
                rule=rule)
    fingerprints = {i.name: i.pair_fingerprint for i in infos}
    for r in runs:
        state = run_state(plan.run_dir(r), fingerprints[r.scheme], r.method, tag, r.seed, config)
        if state == "finished":
            plan.finished.add(r)
        elif state != "new":
            plan.stale[r] = state
    return plan


def corpora_with_features(cache: Path, feature_set: str = DEFAULT_FEATURE_SET) -> list[str]:
    root = Path(cache) / "features"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / feature_set / "meta.json").is_file())


def _reason(exc: SercrossError) -> str:
    return exc.message + (f" — {exc.hint}" if exc.hint else "")


class _SchemeResolver:
    """Schemes as asked for -> the pairs they run on, or the reason they cannot run (each corpus loaded once)."""

    def __init__(self, cache: Path, feature_set: str, extract: Callable | None):
        self.cache, self.feature_set, self.extract = cache, feature_set, extract
        self.tables: dict[str, FeatureTable | SercrossError] = {}

    def resolve(self, wanted: Sequence[tuple[str, str]]) -> tuple[list[SchemeInfo], list[Skip]]:
        infos: list[SchemeInfo] = []
        skipped: list[Skip] = []
        seen: set[tuple[str, str]] = set()
        for raw_src, raw_tgt in wanted:
            asked = scheme_key(raw_src, raw_tgt)
            try:
                src, tgt = (self._canonical(n) for n in (raw_src, raw_tgt))
            except SercrossError as exc:
                skipped.append(Skip(asked, _reason(exc)))
                continue
            if (src, tgt) in seen:
                continue
            seen.add((src, tgt))
            if src == tgt:
                skipped.append(Skip(asked, "source and target are the same corpus"))
                continue
            found = self._scheme(src, tgt)
            (infos if isinstance(found, SchemeInfo) else skipped).append(found)
        return infos, skipped

    def _canonical(self, name: str) -> str:
        """Canonical id of a corpus name or alias (the manifests carry the paper's B, E, C)."""
        key = name.strip()
        try:
            return corpus_name(key)
        except SercrossError:
            if (features_dir(self.cache, key, self.feature_set) / "meta.json").is_file():
                return key  # features in the cache of a corpus whose manifest is elsewhere
            raise

    def _scheme(self, src: str, tgt: str) -> SchemeInfo | Skip:
        for name in (src, tgt):
            if name not in self.tables:
                try:
                    self.tables[name] = self._load(name)
                except SercrossError as exc:
                    self.tables[name] = exc
        missing = [self.tables[n] for n in (src, tgt) if isinstance(self.tables[n], SercrossError)]
        if missing:
            return Skip(scheme_key(src, tgt), "; ".join(_reason(e) for e in missing))
        s_tab, t_tab = self.tables[src], self.tables[tgt]
        classes = default_classes(s_tab, t_tab)
        if frozenset({src, tgt}) not in PAPER_CLASSES and len(classes) < MIN_SHARED_CLASSES:
            return Skip(
                scheme_key(src, tgt),
                f"{src} and {tgt} share {len(classes)} class(es) ({', '.join(classes) or 'none'}); "
                f"a scheme needs at least {MIN_SHARED_CLASSES}",
            )
        try:
            pair = pair_for(self.cache, s_tab, t_tab, classes)
        except SercrossError as exc:
            return Skip(scheme_key(src, tgt), _reason(exc))
        return SchemeInfo(src, tgt, pair.classes, len(pair.ys), len(pair.yt), pair.meta.get("fingerprint"))

    def _load(self, name: str) -> FeatureTable:
        """Cached features, else extracted from the configured root (``extract(manifest, root)``), else an error."""
        cache, feature_set = self.cache, self.feature_set
        if (features_dir(cache, name, feature_set) / "meta.json").is_file():
            return load_features(cache, name, feature_set)
        extract = self.extract
        if extract is None:

            def extract(m, root):
                from sercross.features import extract_corpus

                return extract_corpus(m, root, cache, feature_set)

        return features_or_extract(cache, load_manifest(name), feature_set, extract)
