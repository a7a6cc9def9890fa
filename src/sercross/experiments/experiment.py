"""An experiment: a study a researcher defines in one TOML file (or by the flags of ``sercross benchmark``) and runs
with ``sercross run FILE``. It names corpora, schemes, class sets, methods with any of their settings, presets,
seeds and features; :meth:`Experiment.recipes` turns its methods into the recipes of a benchmark grid
(:func:`sercross.experiments.plan.plan_grid`), so runs asked for by a file and by flags with the same settings are
the same runs. The format is documented in docs/experiments.md.

A file is read, and every key and value checked, by :mod:`.experiment_file`. :meth:`Experiment.to_doc` is the
experiment resolved, every default
filled in; sercross stores it with the results (``<cache>/benchmarks/<name>/experiment.toml``), and it runs again
as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations

from sercross.experiments.recipes import Recipe, setting_text
from sercross.features import DEFAULT_FEATURE_SET
from sercross.infra import SercrossError, toml_dumps
from sercross.methods import METHODS, PAPER_METHODS

TOP_KEYS = ("name", "description", "corpora", "schemes", "classes", "target_set", "in_corpus", "features", "preset",
            "presets", "seeds", "settings", "methods")
METHOD_KEYS = ("method", "label", "preset")
DEFAULT = "default"  # in ``classes``: each pair's default class set
ALL = "all"  # ``schemes = "all"``: every ordered pair of ``corpora``
LOCO = "loco"  # ``schemes = "loco"``: leave-one-corpus-out over ``corpora`` (each held out, the others its sources)
# How a method's group in the registry (``MethodSpec.group``) is called where groups name methods, where it differs.
GROUP_NAMES = {"ours_ablation": "ours", "spk_baseline": "spk"}


def method_groups() -> dict[str, tuple[str, ...]]:
    """Names that stand for several methods, from the registry: each group's methods in registry order, then
    ``all``. The first group (``paper``) is the default."""
    groups: dict[str, list[str]] = {}
    for name, spec in METHODS.items():
        groups.setdefault(GROUP_NAMES.get(spec.group, spec.group), []).append(name)
    return {**{g: tuple(names) for g, names in groups.items()}, "all": tuple(METHODS)}


@dataclass(frozen=True)
class MethodEntry:
    """One row of the study's tables: a method, its own preset (None: the experiment's) and settings."""

    method: str
    label: str | None = None
    preset: str | None = None
    settings: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Experiment:
    name: str
    methods: tuple[MethodEntry, ...] = tuple(MethodEntry(m) for m in PAPER_METHODS)
    corpora: tuple[str, ...] = ()
    schemes: tuple[tuple[str, str], ...] | None = None  # None: every pair of ``corpora`` (else the paper's six)
    class_sets: tuple[tuple[str, ...] | None, ...] = (None,)
    target_sets: tuple[str, ...] = ("shared",)  # which target utterances the methods see (each a pair of its own)
    loco: bool = False  # with ``corpora`` and no ``schemes``: the leave-one-corpus-out schemes instead of every pair
    in_corpus: bool = False  # also each column's in-corpus ceiling (as ``benchmark --in-corpus``)
    features: str = DEFAULT_FEATURE_SET
    presets: tuple[str, ...] = ("paper",)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    settings: tuple[tuple[str, object], ...] = ()  # for every method (a method's own settings win)
    description: str = ""
    origin: str = ""  # where it was read from (messages only)
    manifests: dict = field(default_factory=dict, compare=False)  # corpus name -> its manifest, when one was read

    # ------------------------------------------------------------------------------------ what it runs

    def scheme_list(self) -> list[tuple[str, str]] | None:
        """The schemes to run: those listed, else every ordered pair of the corpora, else None (the paper's six)."""
        if self.schemes is not None:
            return list(self.schemes)
        if self.corpora and self.loco:
            from sercross.experiments.sources import loco_schemes

            return loco_schemes(self.corpus_names())
        if self.corpora:
            return list(permutations(self.corpus_names(), 2))
        return None

    def corpus_names(self) -> list[str]:
        return [self.manifests[c].name if c in self.manifests else c for c in self.corpora]

    def recipes(self) -> dict[str, Recipe]:
        """Row label -> recipe, in the order of ``methods`` (each method once per preset it runs with)."""
        out: dict[str, Recipe] = {}
        where: dict[Recipe, str] = {}
        presets_vary = len(self.presets) > 1
        for entry in self.methods:
            for preset in ((entry.preset,) if entry.preset else self.presets):
                settings = {**dict(self.settings), **dict(entry.settings)}
                recipe = Recipe.build(entry.method, preset, settings, self.features)
                label = entry.label or _auto_label(recipe, dict(entry.settings))
                if presets_vary and not entry.preset:
                    label += f" ({preset})"
                if recipe in where:
                    raise SercrossError(f"{self._where()}methods {where[recipe]!r} and {label!r} are the same runs "
                                        f"({recipe.method}, tag {recipe.tag})", hint="remove one of them")
                if label in out:
                    raise SercrossError(f"{self._where()}two methods are labelled {label!r}",
                                        hint="give each method entry its own label")
                own = {k: v for k, v in recipe.settings if k in dict(entry.settings)}
                if label in METHODS and label != recipe.method or (label == recipe.method and own):
                    raise SercrossError(f"{self._where()}label {label!r} names a registry method, but the entry "
                                        f"runs {recipe.method} with {recipe.describe_changes()}",
                                        hint="choose a label that is not a method's name")
                out[label] = recipe
                where[recipe] = label
        return out

    def _where(self) -> str:
        return f"{self.origin}: " if self.origin else ""

    # ------------------------------------------------------------------------------------ as a document

    def to_doc(self) -> dict:
        """The experiment resolved: every key with its value (schemes listed, seeds and presets as lists)."""
        schemes = self.scheme_list()
        doc: dict = {"name": self.name}
        if self.description:
            doc["description"] = self.description
        doc["corpora"] = [str(self.manifests[c].path) if c in self.manifests and is_manifest_path(c) else c
                          for c in self.corpora]
        doc["schemes"] = [f"{s}:{t}" for s, t in schemes] if schemes is not None else "paper"
        doc["classes"] = [DEFAULT if c is None else list(c) for c in self.class_sets]
        if self.target_sets != ("shared",):  # the default is left out: files written before it stay the same
            doc["target_set"] = list(self.target_sets)
        if self.in_corpus:  # likewise left out when false
            doc["in_corpus"] = True
        doc["features"] = self.features
        doc["presets"] = list(self.presets)
        doc["seeds"] = list(self.seeds)
        doc["settings"] = {k: _toml_value(v) for k, v in self.settings}
        doc["methods"] = [{"method": e.method, **({"label": e.label} if e.label else {}),
                           **({"preset": e.preset} if e.preset else {}),
                           **{k: _toml_value(v) for k, v in e.settings}} for e in self.methods]
        return doc

    def to_toml(self) -> str:
        return toml_dumps(self.to_doc(), comment=(
            f"sercross experiment {self.name!r}, resolved: every default filled in.\n"
            "Run it again as is with `sercross run THIS_FILE`; the format: docs/experiments.md."))


def is_manifest_path(text: str) -> bool:
    return text.endswith(".toml")


def _auto_label(recipe: Recipe, own: Mapping[str, object]) -> str:
    """The method's name, with the settings its entry changes (those of ``[settings]`` apply to every row)."""
    changed = {k: v for k, v in recipe.settings if k in own}
    return recipe.method if not changed else f"{recipe.method} ({settings_text(changed)})"


def _toml_value(v: object) -> object:
    if isinstance(v, tuple):
        return [_toml_value(i) for i in v]
    return v


def experiment_from_flags(name: str, methods: Sequence[str], schemes: Sequence[tuple[str, str]] | None,
                          seeds: Sequence[int], preset: str, settings: Mapping[str, object],
                          class_set: Sequence[str] | None, features: str,
                          target_set: str = "shared") -> Experiment:
    """The experiment ``sercross benchmark`` runs from its flags (the same runs as the file that says the same)."""
    return Experiment(name=name, methods=tuple(MethodEntry(m) for m in methods),
                      schemes=tuple(schemes) if schemes else None,
                      class_sets=(tuple(class_set) if class_set else None,), features=features, presets=(preset,),
                      seeds=tuple(seeds), settings=tuple(settings.items()), target_sets=(target_set,))


def settings_text(settings: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={setting_text(k, v)}" for k, v in settings.items())
