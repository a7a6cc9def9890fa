"""How a run is trained, apart from its pair and seed: a method, a preset and every setting changed from them.

A :class:`Recipe` is the identity of a run's settings. It holds only the settings that differ from what the
method and preset give (a setting set to its default is dropped), so a run asked for by flags
(``train --preset fast --lr 3e-4 --set ramp=false``) and the same run asked for by an experiment file are one run
in one folder: ``<cache>/runs/<pair>/<method>/<tag>-seed<k>/``. The *tag* names the preset and the changed
settings: first ``e``/``lr``/``b`` (epochs, learning rate, batch size, as tags always were: ``paper_e50``,
``fast_lr0.0003``), then every other setting as ``name-value`` in name order (``fast_lr0.0003_ramp-false``), and a
short hash of those instead when the tag would get long; a bf16 run's tag ends in ``_bf16`` (``fast_bf16``). A
variant of a method lives in its method's folder.

Settings are the method definition's fields a study may vary (:data:`SPEC_SETTINGS`) and the training
configuration's fields (:class:`sercross.methods.TrainConfig`; ``threads`` aside, which does not change a run).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from sercross.features import DEFAULT_FEATURE_SET, check_feature_set
from sercross.infra import SercrossError, did_you_mean
from sercross.methods import PRESETS, TERM_NAMES, MethodSpec, TrainConfig, get_method, get_preset

# MethodSpec fields a study may vary (the others say what a method is called, its kind and its table group).
SPEC_SETTINGS = ("terms", "weighting", "alpha", "input_norm", "normalized_terms", "discriminator_width", "adapter")
# TrainConfig fields a study may vary; ``threads`` changes how fast a run trains, not what it is.
TRAIN_SETTINGS = tuple(f.name for f in fields(TrainConfig) if f.name != "threads")
SETTINGS = SPEC_SETTINGS + TRAIN_SETTINGS
# What a method that is not a network reads of them, by kind; the others are left out of its recipe (they change
# nothing). A network method reads every setting.
KIND_SETTINGS = {"pca_svm": ("input_norm",), "shallow": ("input_norm", "adapter")}
# Tags as sercross always wrote them: these settings first, in this order, as e50, lr0.0003, b32.
SHORT_TAGS = {"epochs": "e", "lr": "lr", "batch_size": "b"}
MAX_TAG = 60  # characters; a longer tag puts a hash of its other settings in their place


def _defaults() -> dict[str, object]:
    spec, train = MethodSpec("_", "_"), TrainConfig()
    return {**{k: getattr(spec, k) for k in SPEC_SETTINGS}, **{k: getattr(train, k) for k in TRAIN_SETTINGS}}


_DEFAULTS = _defaults()


def check_setting_name(name: str, where: str = "") -> str:
    """``name`` if it is a setting, else an error with the closest (``where``: prefixes the message)."""
    if name in SETTINGS:
        return name
    raise SercrossError(f"{where}unknown setting {name!r}{did_you_mean(name, SETTINGS)}",
                        hint=f"method settings: {', '.join(SPEC_SETTINGS)}; "
                        f"training settings: {', '.join(TRAIN_SETTINGS)}")


def coerce(name: str, value: object) -> object:
    """``value`` in the type its setting has (lists -> tuples, ints -> floats where a float is meant, term names ->
    one flag per term); unchecked beyond that (the method definition and training config check it)."""
    if name == "terms" and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        unknown = [v for v in value if v not in TERM_NAMES]
        if unknown:
            raise SercrossError(f"terms: unknown term {unknown[0]!r}{did_you_mean(unknown[0], TERM_NAMES)}",
                                hint=f"terms are named among: {', '.join(TERM_NAMES)}")
        return tuple(t in value for t in TERM_NAMES)
    if name == "alpha" and isinstance(value, (list, tuple)):
        return tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
    if isinstance(value, list):
        return tuple(value)
    default = _DEFAULTS.get(name)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _active(terms: tuple[bool, ...]) -> tuple[bool, ...]:
    return tuple(terms) + (False,) * (len(TERM_NAMES) - len(terms))


@dataclass(frozen=True)
class Recipe:
    """A method (registry name), a preset, the settings changed from them (sorted ``(name, value)`` pairs, only
    those that differ) and the feature set. Build it with :meth:`build`, which drops settings at their default."""

    method: str
    preset: str = "paper"
    settings: tuple[tuple[str, object], ...] = ()
    feature_set: str = DEFAULT_FEATURE_SET

    @classmethod
    def build(cls, method: str, preset: str = "paper", settings: Mapping[str, object] | None = None,
              feature_set: str = DEFAULT_FEATURE_SET) -> Recipe:
        """The recipe of ``method`` with ``preset`` and ``settings`` (names checked, values checked by building
        the variant's method definition and training config)."""
        base = get_method(method)
        config = get_preset(preset)
        check_feature_set(feature_set)
        given = {check_setting_name(k): coerce(k, v) for k, v in (settings or {}).items()}
        if base.kind in KIND_SETTINGS:  # e.g. the training config means nothing to PCA + SVM
            given = {k: v for k, v in given.items() if k in KIND_SETTINGS[base.kind]}
        if "lr" in given and isinstance(given["lr"], (int, float)) and not given["lr"] > 0:
            raise SercrossError(f"lr = {given['lr']:g} would not train", hint="give a positive learning rate")
        effective = base.configure(config)
        changed = {}
        for name, value in given.items():
            if name in SPEC_SETTINGS:
                now = _active(base.terms) if name == "terms" else getattr(base, name)
                if name == "terms":
                    value = _active(value) if isinstance(value, tuple) else value
            else:
                now = getattr(effective, name)
            if not _same(value, now):
                changed[name] = value
        recipe = cls(method, preset, tuple(sorted(changed.items())), feature_set)
        recipe.spec  # noqa: B018 - builds (and so checks) the variant's method definition and config
        return recipe

    @property
    def changes(self) -> dict[str, object]:
        return dict(self.settings)

    @property
    def spec(self) -> MethodSpec:
        """The method definition: the registry's, or a variant of it under the same name."""
        base = get_method(self.method)
        if not self.settings:
            return base
        spec_changes = {k: v for k, v in self.settings if k in SPEC_SETTINGS}
        train_changes = {k: v for k, v in self.settings if k in TRAIN_SETTINGS}
        return replace(base, **spec_changes, overrides={**base.overrides, **train_changes},
                       description=f"{base.description}; variant: {self.describe_changes()}")

    @property
    def config(self) -> TrainConfig:
        """The preset's training config (the method definition, :attr:`spec`, applies the rest)."""
        return PRESETS[self.preset]

    @property
    def seeded(self) -> bool:
        return get_method(self.method).seeded

    def describe_changes(self) -> str:
        return ", ".join(f"{k}={setting_text(k, v)}" for k, v in self.settings) or "none"

    @property
    def tag(self) -> str:
        """The run folder's tag (without ``-seed<k>``): the preset and the changed settings."""
        values = dict(self.settings)
        head = [self.preset] + [f"{short}{values[k]:g}" for k, short in SHORT_TAGS.items() if k in values]
        rest = [(k, v) for k, v in self.settings if k not in SHORT_TAGS and k != "precision"]
        if self.feature_set != DEFAULT_FEATURE_SET:
            rest = sorted(rest + [("features", self.feature_set)])
        tail = [f"{k}-{_tag_text(k, v)}" for k, v in rest]
        tag = "_".join(head + tail)
        if len(tag) > MAX_TAG:
            digest = hashlib.sha1(json.dumps([[k, _jsonable(v)] for k, v in rest]).encode()).hexdigest()[:10]
            tag = "_".join(head + [f"h{digest}"])
        if "precision" in values:  # last, as --precision always named it: fast_bf16 (an fp32 run has no suffix)
            tag += f"_{values['precision']}"
        return tag

    def to_dict(self) -> dict:
        """How the run was asked for (config.json's ``recipe``): preset, changed settings, feature set."""
        return {"method": self.method, "preset": self.preset, "feature_set": self.feature_set,
                "settings": {k: _jsonable(v) for k, v in self.settings}}

    @classmethod
    def from_dict(cls, doc: dict) -> Recipe:
        return cls.build(doc["method"], doc.get("preset", "paper"), doc.get("settings") or {},
                         doc.get("feature_set", DEFAULT_FEATURE_SET))

    def run_seed(self, seed: int) -> int:
        """The seed a run of this recipe is trained with: ``seed``, or 0 for a method the seed does not change."""
        return get_method(self.method).run_seed(seed)


def _same(a: object, b: object) -> bool:
    """Equal as stored (JSON): ``True`` is not ``1``, ``1.0`` is not ``1``, tuples and lists alike."""
    return json.dumps(a) == json.dumps(b)


def _jsonable(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v


def setting_text(name: str, value: object) -> str:
    """A setting's value as written in ``--set name=value`` and in TOML."""
    if name == "terms" and isinstance(value, tuple):
        return "[" + ",".join(f'"{t}"' for t, on in zip(TERM_NAMES, value) if on) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ",".join(setting_text("", v) if not isinstance(v, str) else f'"{v}"' for v in value) + "]"
    return str(value)


def _tag_text(name: str, value: object) -> str:
    if name == "terms" and isinstance(value, tuple):
        return "+".join(t for t, on in zip(TERM_NAMES, value) if on) or "none"
    if isinstance(value, tuple):
        return "x".join(_tag_text("", v) for v in value)
    text = setting_text(name, value)
    return re.sub(r"[^A-Za-z0-9._+-]", "", text)
