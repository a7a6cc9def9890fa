"""A benchmark's plan: which schemes can run, the grid of runs (schemes × methods × seeds), which are finished.

A benchmark is a plain list of runs, each of which is an ordinary run folder
(``<cache>/runs/<pair>/<method>/<tag>-seed<k>/``, written by :func:`sercross.experiments.runs.train_run`):
pairs × methods (each a :class:`~sercross.experiments.recipes.Recipe`: a method, a preset and changed settings)
× seeds, a pair being a scheme on a class set and a target set (:class:`~sercross.experiments.keys.PairKey`); a
scheme's source may be several corpora (``a+b+c``, :mod:`~sercross.experiments.sources`).
A run whose ``metrics.json`` exists and whose ``config.json`` matches what the grid would train (same pair,
method definition, tag, seed and training configuration, the torch thread count aside) is finished and never
trained again, so an interrupted benchmark resumes by running the same command. A method the seed does not
change (``MethodSpec.seeded``) trains one run, of seed 0, that the grid lists for every seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path

from sercross.corpora import load_manifest, register
from sercross.experiments.auto import AUTO
from sercross.experiments.classes import native_labels, resolve_classes
from sercross.experiments.keys import Keyed, PairKey
from sercross.experiments.pairs import PAPER_CLASSES, check_target_set, default_classes
from sercross.experiments.recipes import Recipe
from sercross.experiments.resolve import corpus_name, features_or_extract, pair_for
from sercross.experiments.run_status import run_state
from sercross.experiments.schemes import PAPER_SCHEMES, scheme_key
from sercross.experiments.sources import join_sources, split_sources
from sercross.features import DEFAULT_FEATURE_SET, FeatureTable, check_feature_set, load_features
from sercross.infra import SercrossError, features_dir
from sercross.methods import PAPER_METHODS, TrainConfig
from sercross.selection import DEFAULT_RULE, SelectionRule

# A scheme outside the paper's three pairs needs at least this many shared classes (on its default class set).
MIN_SHARED_CLASSES = 3


@dataclass(frozen=True)
class RunSpec(Keyed):
    """One run of a grid: a pair, a method of the grid (its label in ``Plan.recipes``) and a seed."""

    key: PairKey
    method: str
    seed: int

    @property
    def scheme(self) -> str:
        """The pair's id in results and tables (:attr:`PairKey.name`)."""
        return self.key.name

    def describe(self) -> str:
        return f"{self.method} {self.key.label} seed {self.seed}"


@dataclass(frozen=True)
class Skip:
    scheme: str  # as asked for, e.g. "E:B" or "enterface:berlin", with its class set when chosen
    reason: str


@dataclass
class SchemeInfo(Keyed):
    key: PairKey
    classes: tuple[str, ...]
    n_source: int
    n_target: int
    pair_fingerprint: str | None


@dataclass
class Plan:
    cache: Path
    feature_set: str
    recipes: dict[str, Recipe]  # the grid's methods: label (a row of its tables) -> how its runs are trained
    seeds: tuple[int, ...]
    schemes: list[SchemeInfo]
    skipped: list[Skip]
    runs: list[RunSpec]  # the runs to train (auto's candidates included; auto itself trains nothing)
    finished: set[RunSpec] = field(default_factory=set)  # already in the cache, not trained again
    stale: dict[RunSpec, str] = field(default_factory=dict)  # a run folder exists but does not match
    rule: SelectionRule = DEFAULT_RULE  # what auto trains and how it picks
    # auto's entries: its label -> candidate method -> the label of that candidate's recipe in the grid
    candidates: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.recipes)

    @property
    def target_sets(self) -> tuple[str, ...]:
        """The target sets of the grid's pairs (``shared`` when it has none)."""
        return tuple(dict.fromkeys(i.key.target_set for i in self.schemes)) or ("shared",)

    @property
    def presets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.preset for r in self.recipes.values()))

    @property
    def preset(self) -> str:
        """The grid's preset (the first, when its methods use several)."""
        return self.presets[0] if self.recipes else "paper"

    @property
    def tag(self) -> str:
        """The tag the grid's runs share, else its preset(s) joined by ``+``."""
        tags = {r.tag for r in self.recipes.values()}
        return tags.pop() if len(tags) == 1 else "+".join(self.presets)

    @property
    def config(self) -> TrainConfig:
        return next(iter(self.recipes.values())).spec.configure(next(iter(self.recipes.values())).config)

    def recipe(self, spec: RunSpec) -> Recipe:
        return self.recipes[spec.method]

    @property
    def selections(self) -> list[RunSpec]:
        """The ``auto`` decisions of the grid, one per auto entry, pair and seed, made once its candidates are
        trained."""
        return [RunSpec(i.key, label, s) for label in self.candidates for s in self.seeds for i in self.schemes]

    def candidate_dirs(self, selection: RunSpec) -> dict[str, Path]:
        """Candidate method -> its run folder, for an ``auto`` decision of :attr:`selections`."""
        return {m: self.run_dir(RunSpec(selection.key, label, selection.seed))
                for m, label in self.candidates[selection.method].items()}

    def run_dir(self, spec: RunSpec) -> Path:
        recipe = self.recipes[spec.method]
        return spec.key.run_dir(self.cache, recipe.method, recipe.tag, recipe.run_seed(spec.seed))

    @property
    def todo(self) -> list[RunSpec]:
        """The runs to train: unfinished, each folder once (a method the seed does not change trains one run that
        serves every seed)."""
        seen: set[Path] = set()
        out = []
        for r in self.runs:
            rdir = self.run_dir(r)
            if r not in self.finished and rdir not in seen:
                seen.add(rdir)
                out.append(r)
        return out


def recipes_for(methods: Sequence[str], preset: str = "paper", settings: Mapping[str, object] | None = None,
                feature_set: str = DEFAULT_FEATURE_SET) -> dict[str, Recipe]:
    """Method names -> their recipes with one preset and the same settings (the grid of ``sercross benchmark``)."""
    return {m: Recipe.build(m, preset, settings, feature_set) for m in methods}


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
    class_sets: Sequence[Sequence[str] | None] = (None,),
    rule: SelectionRule = DEFAULT_RULE,
    target_sets: Sequence[str] = ("shared",),
    precision: str | None = None,
) -> Plan:
    """The grid of ``methods`` with one preset (``epochs``/``lr``/``batch_size``/``precision`` override it; precision
    fp32 or bf16, as resolved by ``methods.resolve_precision``): see :func:`plan_grid`."""
    check_feature_set(feature_set)
    settings = {k: v for k, v in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size), ("precision", precision))
                if v is not None}
    recipes = recipes_for(tuple(methods) if methods else PAPER_METHODS, preset, settings, feature_set)
    return plan_grid(cache, recipes, schemes, all_pairs, seeds, class_sets, feature_set, extract, rule=rule,
                     target_sets=target_sets)


def plan_grid(
    cache: Path,
    recipes: Mapping[str, Recipe],
    schemes: Sequence[tuple[str, str]] | None = None,
    all_pairs: bool = False,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    class_sets: Sequence[Sequence[str] | None] = (None,),
    feature_set: str = DEFAULT_FEATURE_SET,
    extract: Callable | None = None,
    manifests: Mapping | None = None,
    rule: SelectionRule = DEFAULT_RULE,
    target_sets: Sequence[str] = ("shared",),
) -> Plan:
    """Resolve schemes to pairs (extracting and pairing what the cache lacks), list the runs, find finished ones.

    ``recipes``: label -> :class:`Recipe` (the grid's methods). ``schemes``: ``(source, target)`` corpus names or
    aliases; default: the paper's six. ``class_sets``: None (each pair's default set) or class names (canonical or
    the corpora's own labels, any order). ``target_sets``: which target utterances the methods see, ``shared``
    and/or ``all`` (:mod:`sercross.experiments.pairs`); each is a pair of its own. ``manifests``: corpus name ->
    manifest, for corpora an experiment file named by a manifest path. A scheme that cannot run on a class set
    (unknown corpus, no features and no root, too few shared classes, a class missing, …) is skipped with its
    reason in ``Plan.skipped``.
    """
    cache = Path(cache)
    check_feature_set(feature_set)
    if not recipes:
        raise SercrossError("no method to run", hint="name at least one method")
    target_sets = tuple(dict.fromkeys(check_target_set(t) for t in (target_sets or ("shared",))))
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise SercrossError("no seed to run", hint="give --seeds 5 or --seeds 0,1")

    wanted: list[tuple[str, str]] = list(schemes or [])
    if all_pairs:
        wanted += list(permutations(corpora_with_features(cache, feature_set), 2))
    if not wanted and not all_pairs:
        wanted = list(PAPER_SCHEMES)
    infos, skipped = _SchemeResolver(cache, feature_set, extract, manifests).resolve(wanted, class_sets or (None,),
                                                                                     target_sets)
    return plan_runs(cache, infos, recipes, seeds, feature_set, rule, skipped)


def scheme_of(pair) -> SchemeInfo:
    """The plan's view of a pair that is already built."""
    return SchemeInfo(pair.key, pair.classes, len(pair.ys), len(pair.yt), pair.meta.get("fingerprint"))


def with_candidates(recipes: Mapping[str, Recipe], rule: SelectionRule = DEFAULT_RULE
                    ) -> tuple[dict[str, Recipe], dict[str, dict[str, str]]]:
    """The grid's recipes with the candidates of each ``auto`` entry added where it stands (with its preset,
    settings and features; a recipe the grid has already is not added again), the ``auto`` entries last; and, per
    ``auto`` label, candidate method -> the label of its recipe in the grid."""
    out: dict[str, Recipe] = {}
    candidates: dict[str, dict[str, str]] = {}
    for label, recipe in recipes.items():
        if recipe.method != AUTO:
            out.setdefault(label, recipe)
            continue
        labels = {}
        for m in rule.candidates:
            wanted = Recipe.build(m, recipe.preset, recipe.changes, recipe.feature_set)
            same = [k for k, r in {**recipes, **out}.items() if r == wanted]
            labels[m] = same[0] if same else (m if m not in recipes and m not in out else f"{m} (auto)")
            out.setdefault(labels[m], wanted)
        candidates[label] = labels
    return {**out, **{label: recipes[label] for label in candidates}}, candidates


def plan_runs(cache: Path, infos: list[SchemeInfo], recipes: Mapping[str, Recipe], seeds: Sequence[int],
              feature_set: str = DEFAULT_FEATURE_SET, rule: SelectionRule = DEFAULT_RULE,
              skipped: list[Skip] | None = None) -> Plan:
    """The grid of runs on pairs that exist (``infos``), with the finished and stale ones found in the cache."""
    recipes, candidates = with_candidates(recipes, rule)
    runs = [RunSpec(i.key, m, s) for s in seeds for i in infos for m in recipes if m not in candidates]
    plan = Plan(cache, feature_set, recipes, tuple(seeds), infos, list(skipped or []), runs, rule=rule,
                candidates=candidates)
    fingerprints = {i.key: i.pair_fingerprint for i in infos}
    for r in runs:
        recipe = plan.recipe(r)
        state = run_state(plan.run_dir(r), fingerprints[r.key], recipe.method, recipe.tag, recipe.run_seed(r.seed),
                          recipe.config, spec=recipe.spec)
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


SAME = "source and target are the same corpus"


def _reason(exc: SercrossError) -> str:
    return exc.message + (f" — {exc.hint}" if exc.hint else "")


class _SchemeResolver:
    """Schemes as asked for -> the pairs they run on, or the reason they cannot run (each corpus loaded once)."""

    def __init__(self, cache: Path, feature_set: str, extract: Callable | None, manifests: Mapping | None = None):
        self.cache, self.feature_set, self.extract = cache, feature_set, extract
        self.manifests = dict(manifests or {})
        self.tables: dict[str, FeatureTable | SercrossError] = {}

    def resolve(self, wanted: Sequence[tuple[str, str]], class_sets: Sequence[Sequence[str] | None],
                target_sets: Sequence[str] = ("shared",)) -> tuple[list[SchemeInfo], list[Skip]]:
        infos: list[SchemeInfo] = []
        skipped: list[Skip] = []
        seen: set[PairKey] = set()
        for raw_src, raw_tgt in wanted:
            asked = scheme_key(raw_src, raw_tgt)
            try:
                src, tgt = (self._canonical(n) for n in (raw_src, raw_tgt))
            except SercrossError as exc:
                skipped.append(Skip(asked, _reason(exc)))
                continue
            if tgt in split_sources(src):
                if Skip(asked, SAME) not in skipped:
                    skipped.append(Skip(asked, SAME))
                continue
            for target_set in target_sets:
                for classes in class_sets:
                    found = self._scheme(src, tgt, classes, target_set)
                    if isinstance(found, SchemeInfo):
                        if found.key not in seen:
                            seen.add(found.key)
                            infos.append(found)
                    elif found not in skipped:
                        skipped.append(found)
        return infos, skipped

    def _canonical(self, name: str) -> str:
        """Canonical id of a corpus name or alias (the manifests carry the paper's B, E, C); of several sources
        ``a+b+c``, their canonical names sorted and joined."""
        parts = split_sources(name)
        if len(parts) > 1:
            return join_sources([self._canonical(p) for p in parts])
        key = name.strip()
        if key in self.manifests:
            return self.manifests[key].name
        if key.endswith(".toml"):  # a manifest given by path: known by its name in this cache from now on
            manifest = register(self.cache, load_manifest(key))
            self.manifests[manifest.name] = manifest
            return manifest.name
        try:
            return corpus_name(key, self.cache)
        except SercrossError:
            if (features_dir(self.cache, key, self.feature_set) / "meta.json").is_file():
                return key  # features in the cache of a corpus whose manifest is elsewhere
            raise

    def _scheme(self, src: str, tgt: str, classes: Sequence[str] | None,
                target_set: str = "shared") -> SchemeInfo | Skip:
        asked = (scheme_key(src, tgt) + (f" ({'+'.join(classes)})" if classes else "")
                 + ("" if target_set == "shared" else f" (target set {target_set})"))
        names = (*split_sources(src), tgt)
        for name in names:
            if name not in self.tables:
                try:
                    self.tables[name] = self._load(name)
                except SercrossError as exc:
                    self.tables[name] = exc
        missing = [self.tables[n] for n in names if isinstance(self.tables[n], SercrossError)]
        if missing:
            return Skip(asked, "; ".join(_reason(e) for e in missing))
        s_tabs, t_tab = [self.tables[n] for n in names[:-1]], self.tables[tgt]
        s_tab = s_tabs[0] if len(s_tabs) == 1 else s_tabs
        try:
            chosen = None if not classes else resolve_classes(
                classes, {**{t.corpus: native_labels(t) for t in s_tabs}, tgt: native_labels(t_tab)}, what="classes")
        except SercrossError as exc:
            return Skip(asked, _reason(exc))
        if chosen is None:
            default = default_classes(s_tab, t_tab)
            if frozenset({src, tgt}) not in PAPER_CLASSES and len(default) < MIN_SHARED_CLASSES:
                what = "share" if len(names) == 2 else "(the target and every source) share"
                return Skip(asked, f"{src} and {tgt} {what} {len(default)} class(es) "
                            f"({', '.join(default) or 'none'}); a scheme needs at least {MIN_SHARED_CLASSES}")
        try:
            pair = pair_for(self.cache, s_tab, t_tab, chosen, target_set=target_set)
        except SercrossError as exc:
            return Skip(asked, _reason(exc))
        return SchemeInfo(pair.key, pair.classes, len(pair.ys), len(pair.yt), pair.meta.get("fingerprint"))

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

        manifest = self.manifests.get(name) or load_manifest(name, cache)
        return features_or_extract(cache, manifest, feature_set, extract)
