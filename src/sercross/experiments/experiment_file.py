"""Reading an experiment file (TOML; the format: docs/experiments.md) into an :class:`~.experiment.Experiment`.

Every key and value is checked when the file is read: an unknown key is refused with the closest valid one and the
list of all, a bad value with what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sercross.experiments.classes import native_labels, resolve_classes, split_names
from sercross.experiments.experiment import (
    ALL,
    DEFAULT,
    LOCO,
    METHOD_KEYS,
    TOP_KEYS,
    Experiment,
    MethodEntry,
    is_manifest_path,
    method_groups,
)
from sercross.experiments.recipes import SETTINGS, check_setting_name
from sercross.experiments.schemes import split_scheme
from sercross.features import DEFAULT_FEATURE_SET, check_feature_set
from sercross.infra import SercrossError, TOMLDecodeError, did_you_mean, toml_loads
from sercross.methods import METHODS, PAPER_METHODS, PRESETS


def load_experiment(path: Path, overrides: Mapping[str, object] | None = None, name: str | None = None,
                    cache: Path | None = None) -> Experiment:
    """The experiment in the TOML file ``path``, with ``overrides`` (``--set``: a top-level key, or a setting for
    every method) and ``name`` (``--name``) applied; checked throughout (``cache``: its corpora count as known)."""
    path = Path(path)
    if not path.is_file():
        raise SercrossError(f"experiment file {path} not found",
                            hint="give the path of a .toml file (docs/experiments.md)")
    try:
        doc = toml_loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLDecodeError) as exc:
        raise SercrossError(f"cannot read experiment file {path}: {exc}",
                            hint="see docs/experiments.md for the format") from exc
    doc = apply_overrides(doc, overrides or {})
    if name:
        doc["name"] = name
    return experiment_from_doc(doc, origin=str(path), base=path.parent, default_name=path.stem, cache=cache)


def apply_overrides(doc: dict, overrides: Mapping[str, object]) -> dict:
    """``doc`` with each override set: a top-level key replaces its value, a method or training setting goes into
    ``[settings]`` (every method), ``settings.NAME`` too."""
    doc = dict(doc)
    for key, value in overrides.items():
        name = key.removeprefix("settings.")
        if key in TOP_KEYS and key != "settings":
            doc[key] = value
        elif name in SETTINGS:
            doc["settings"] = {**dict(doc.get("settings") or {}), name: value}
        else:
            raise SercrossError(f"--set: unknown key {key!r}{did_you_mean(key, TOP_KEYS + SETTINGS)}",
                                hint=f"experiment keys: {', '.join(TOP_KEYS)}; or any method or training setting "
                                f"(docs/experiments.md)")
    return doc


def experiment_from_doc(doc: Mapping, origin: str = "", base: Path | None = None,
                        default_name: str = "experiment", cache: Path | None = None) -> Experiment:
    """The experiment a TOML document describes (``base``: the folder manifest paths are relative to)."""
    where = f"{origin}: " if origin else ""
    for key in doc:
        if key not in TOP_KEYS:
            raise SercrossError(f"{where}unknown key {key!r}{did_you_mean(key, TOP_KEYS)}",
                                hint=f"an experiment file has the keys: {', '.join(TOP_KEYS)} (docs/experiments.md)")
    if "preset" in doc and "presets" in doc:
        raise SercrossError(f"{where}both preset and presets are given", hint="keep one of them")
    features = _feature_set(doc.get("features", DEFAULT_FEATURE_SET), where)
    corpora, manifests = _corpora(doc.get("corpora", []), base, where, cache)
    schemes = _schemes(doc.get("schemes"), where)
    target_sets = _target_sets(doc.get("target_set", "shared"), where)
    presets = tuple(_preset(p, where) for p in _list(doc.get("presets", doc.get("preset", "paper")), "presets", where))
    exp = Experiment(
        name=_name(doc.get("name", default_name), where),
        methods=_methods(doc.get("methods", list(PAPER_METHODS)), where),
        corpora=corpora,
        schemes=None if schemes in (ALL, LOCO) else schemes,
        class_sets=_class_sets(doc.get("classes", [DEFAULT]), manifests, where),
        target_sets=target_sets,
        loco=schemes == LOCO,
        in_corpus=_flag(doc.get("in_corpus", False), "in_corpus", where),
        features=features,
        presets=presets,
        seeds=_seeds(doc.get("seeds", 5), where),
        settings=_settings(doc.get("settings", {}), "settings", where),
        description=str(doc.get("description", "")),
        origin=origin,
        manifests=manifests,
    )
    if schemes in (ALL, LOCO) and not corpora:
        raise SercrossError(f"{where}schemes = \"{schemes}\" needs the corpora",
                            hint="list them: corpora = [\"berlin\", …]")
    exp.scheme_list()  # a leave-one-corpus-out of too few corpora refused now
    exp.recipes()  # every method and setting checked now, before any work
    return exp


def _name(value: object, where: str) -> str:
    text = str(value)
    if not text or "/" in text or text.startswith(".") or not text.isprintable():
        raise SercrossError(f"{where}name {value!r} cannot be a folder name", hint="use letters, digits, '-' and '_'")
    return text


def _list(value: object, key: str, where: str) -> list:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list):
        return value
    raise SercrossError(f"{where}{key} = {value!r} is neither a value nor a list", hint="see docs/experiments.md")


def _feature_set(value: object, where: str) -> str:
    from sercross.features import FEATURE_SETS

    for name in FEATURE_SETS:
        if str(value).lower() == name.lower():
            return name
    check_feature_set(str(value))  # raises, with the list
    return str(value)


def _preset(value: object, where: str) -> str:
    for name in PRESETS:
        if str(value).lower() == name.lower():
            return name
    raise SercrossError(f"{where}unknown preset {value!r}{did_you_mean(str(value), PRESETS)}",
                        hint=f"presets: {', '.join(PRESETS)}")


def _corpora(value: object, base: Path | None, where: str, cache: Path | None) -> tuple[tuple[str, ...], dict]:
    """Corpus names, aliases or manifest paths (relative to the file); the manifests read, by name as written."""
    from sercross.corpora import load_manifest

    names, manifests = [], {}
    for item in _list(value, "corpora", where):
        text = str(item)
        if is_manifest_path(text):
            p = Path(text).expanduser()
            p = p if p.is_absolute() or base is None else base / p
            manifests[str(p)] = load_manifest(p)
            names.append(str(p))
            continue
        try:
            m = load_manifest(text, cache)
            manifests[m.name] = m
            names.append(m.name)
        except SercrossError:
            names.append(text)  # may be a corpus whose features are in the cache: the plan says if it is not
    if len(set(names)) != len(names):
        raise SercrossError(f"{where}corpora lists a corpus twice", hint="name each corpus once")
    return tuple(names), manifests


def _flag(value: object, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise SercrossError(f"{where}{key} = {value!r} is not true or false", hint=f"write {key} = true or false")
    return value


def _target_sets(value: object, where: str) -> tuple[str, ...]:
    from sercross.experiments.keys import TARGET_SETS

    out = []
    for item in _list(value, "target_set", where):
        if item not in TARGET_SETS:
            raise SercrossError(f"{where}unknown target set {item!r}{did_you_mean(str(item), TARGET_SETS)}",
                                hint=f"target_set is one of {', '.join(TARGET_SETS)}, or a list of them")
        out.append(str(item))
    if not out or len(set(out)) != len(out):
        raise SercrossError(f"{where}target_set = {value!r}: name each target set once",
                            hint='e.g. target_set = ["shared", "all"]')
    return tuple(out)


def _schemes(value: object, where: str) -> tuple[tuple[str, str], ...] | str | None:
    if value is None or value in (ALL, LOCO):
        return value
    if value == "paper":
        from sercross.experiments.schemes import PAPER_SCHEMES

        return PAPER_SCHEMES
    return tuple(split_scheme(str(s)) for s in _list(value, "schemes", where))


def _class_sets(value: object, manifests: Mapping, where: str) -> tuple[tuple[str, ...] | None, ...]:
    """``["default", ["anger", "fear"], "anger,fear,sadness"]`` -> ``(None, ("anger", "fear"), …)``, names read as
    canonical classes or the corpora's own labels (``resolve_classes``)."""
    items = value if isinstance(value, list) else [value]
    if items and all(isinstance(i, str) and i != DEFAULT and "," not in i for i in items):
        items = [items]  # classes = ["anger", "fear"]: one class set
    natives = {m.name: native_labels(m) for m in manifests.values()}
    out: list[tuple[str, ...] | None] = []
    for item in items:
        if item == DEFAULT:
            out.append(None)
            continue
        names = split_names(item)
        resolve_classes(names, natives, what=f"{where}classes")  # unknown or repeated names refused now
        out.append(tuple(names))
    if not out:
        raise SercrossError(f"{where}classes lists no class set", hint='e.g. classes = ["default", ["anger", "fear"]]')
    return tuple(dict.fromkeys(out))


def _seeds(value: object, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                  for v in value):
        return tuple(dict.fromkeys(value))
    raise SercrossError(f"{where}seeds = {value!r}", hint="give a count (seeds = 5: seeds 0 to 4) or a list [0, 3, 7]")


def _settings(value: object, what: str, where: str) -> tuple[tuple[str, object], ...]:
    if not isinstance(value, Mapping):
        raise SercrossError(f"{where}{what} must be a table of settings", hint="e.g. [settings] with lr = 3e-4")
    for key in value:
        check_setting_name(key, f"{where}[{what}]: ")
    return tuple((k, _resolved(k, v)) for k, v in value.items())


def _resolved(name: str, value: object) -> object:
    """``value``, or for ``precision = "auto"`` what auto picks on this CPU (fp32 or bf16): runs and the resolved
    experiment store only the precision they are trained in (sercross.methods.resolve_precision)."""
    if name == "precision" and isinstance(value, str) and value.lower() == "auto":
        from sercross.methods import resolve_precision

        return resolve_precision("auto").precision
    return value


def _methods(value: object, where: str) -> tuple[MethodEntry, ...]:
    """Method names, groups (paper, da, ours, spk, shallow, all) or tables ``{method = …, label = …, <setting> …}``."""
    groups = method_groups()
    entries: list[MethodEntry] = []
    for item in _list(value, "methods", where):
        if isinstance(item, str):
            if item.lower() in groups:
                entries += [MethodEntry(m) for m in groups[item.lower()]]
            else:
                entries.append(MethodEntry(_method_name(item, groups, where)))
            continue
        if not isinstance(item, Mapping) or "method" not in item:
            raise SercrossError(f"{where}a methods entry is {item!r}",
                                hint='give a method name, or a table with method = "NAME" and its settings')
        for key in item:
            if key not in METHOD_KEYS and key not in SETTINGS:
                raise SercrossError(f"{where}unknown key {key!r} in the entry of {item['method']!r}"
                                    f"{did_you_mean(key, METHOD_KEYS + SETTINGS)}",
                                    hint=f"an entry has method, label, preset and any setting: {', '.join(SETTINGS)}")
        settings = {k: _resolved(k, v) for k, v in item.items() if k not in METHOD_KEYS}
        entries.append(MethodEntry(_method_name(str(item["method"]), groups, where),
                                   str(item["label"]) if item.get("label") else None,
                                   _preset(item["preset"], where) if item.get("preset") else None,
                                   tuple(settings.items())))
    if not entries:
        raise SercrossError(f"{where}methods lists no method", hint='e.g. methods = ["only_cls", "tlmlda"]')
    return tuple(dict.fromkeys(entries))  # a method named alone and in a group runs once


def _method_name(text: str, groups: Mapping, where: str) -> str:
    for name in METHODS:
        if name.lower() == text.lower().replace("-", "_"):
            return name
    raise SercrossError(f"{where}unknown method {text!r}{did_you_mean(text, list(METHODS) + list(groups))}",
                        hint=f"methods: {', '.join(METHODS)}; groups: {', '.join(groups)}")
