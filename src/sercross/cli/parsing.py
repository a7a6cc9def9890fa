"""Every string the command line takes, read into what the stages expect.

Names (corpora, methods, feature sets, presets, classes) are matched without regard to case, and an unknown
name is refused with the closest known one (:func:`did_you_mean`, the one rule for every name). Lists: schemes,
seeds, methods and method groups, classes. Pure functions: bad input raises ``SercrossError`` with a hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from sercross.infra import SercrossError, did_you_mean


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def choose(what: str, text: str, choices: Iterable[str]) -> str:
    """The canonical spelling of ``text`` among ``choices``: case and ``-``/``_`` do not matter (``is10`` ->
    ``IS10``). An unknown name is refused with the closest choice and the list of all."""
    choices = list(choices)
    if text in choices:
        return text
    for choice in choices:
        if _key(choice) == _key(text):
            return choice
    raise SercrossError(f"unknown {what} {text!r}" + did_you_mean(text, choices),
                        hint=f"choose one of: {', '.join(choices)}")


# ----------------------------------------------------------------------------------------------- single names


def feature_set_name(text: str) -> str:
    from sercross.features import FEATURE_SETS

    return choose("feature set", text, FEATURE_SETS)


def method_name(text: str) -> str:
    from sercross.methods import METHODS

    return choose("method", text, METHODS)


# A run's tag: its preset and the settings it changed (``Recipe.tag``), e.g. paper_e20_lr0.0003_ramp-false, then
# _bf16 for a bf16 run (fast_bf16).
_TAG_OVERRIDES = re.compile(r"(_(e\d+|lr[0-9.eE+-]+|b\d+|h[0-9a-f]{10}|[a-z][a-z_]*-[A-Za-z0-9._+-]+))*(_bf16)?")


def preset_or_tag(text: str) -> str:
    """A preset name (canonical spelling), or a run's whole tag such as ``paper_e20_lr0.0003`` (unchanged; it finds
    runs, as `evaluate` and `report` do)."""
    from sercross.methods import PRESETS

    head, sep, rest = text.partition("_")
    if sep and head in PRESETS and _TAG_OVERRIDES.fullmatch(sep + rest):
        return text
    return choose("preset", text, PRESETS)


def precision_name(text: str) -> str:
    """fp32, bf16 or auto (case does not matter)."""
    from sercross.methods import PRECISION_CHOICES

    return choose("precision", text, PRECISION_CHOICES)


def corpus_names(cache: Path | None = None) -> list[str]:
    """Every name a corpus is known by: the manifests' names and their aliases (and the corpora ``cache`` knows)."""
    from sercross.corpora import available_manifests, load_manifest, registered_manifests

    names: list[str] = []
    for name, path in sorted(available_manifests().items()):
        names.append(name)
        try:
            names += load_manifest(path).aliases
        except SercrossError:  # a broken manifest: `corpora list` shows why
            pass
    return names + [n for n in registered_manifests(cache) if n not in names]


def known_corpus(name: str, cache: Path | None = None) -> str:
    """``name`` unchanged if it names a corpus (manifest name, alias, manifest file, or a corpus ``cache`` knows by
    name), else an error naming the closest known corpus."""
    from sercross.corpora import load_manifest

    try:
        load_manifest(name, cache)
    except SercrossError as exc:
        names = corpus_names(cache)
        if Path(name).suffix == ".toml" or _key(name) in {_key(n) for n in names}:
            raise  # a manifest file or a known corpus that cannot be read: the message says why
        raise SercrossError(exc.message + did_you_mean(name, names), hint=exc.hint) from None
    return name


# ---------------------------------------------------------------------------------------------------- lists


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_schemes(text: str | None) -> list[tuple[str, str]]:
    """``"ravdess:casia,B:C"`` -> ``[("ravdess", "casia"), ("B", "C")]`` (names as typed; ``->``, ``→`` too)."""
    from sercross.experiments import split_scheme

    return [split_scheme(item) for item in _items(text)] if text else []


def parse_seeds(text: str | int | None, default: int = 5) -> tuple[int, ...]:
    """``"5"`` -> seeds 0..4 (a count); ``"0,3,7"`` -> those seeds; ``"2-4"`` -> 2, 3, 4."""
    if text is None or str(text).strip() == "":
        return tuple(range(default))
    s = str(text).strip()
    try:
        if "," in s:
            seeds = [int(x) for x in s.split(",") if x.strip()]
        elif "-" in s.lstrip("-"):
            lo, hi = (int(x) for x in s.split("-", 1))
            seeds = list(range(lo, hi + 1))
        else:
            n = int(s)
            if n == 0:
                raise SercrossError("--seeds 0 asks for no run: a single number is a count of seeds",
                                    hint="for seed 0 alone give --seeds 1 (or the range 0-0)")
            if n < 1:
                raise ValueError
            seeds = list(range(n))
    except ValueError:
        raise SercrossError(
            f"cannot read seeds {s!r}",
            hint="give a count (5 = seeds 0..4), a list (0,3,7) or a range (2-4)",
        ) from None
    seeds = list(dict.fromkeys(seeds))
    if not seeds or any(k < 0 for k in seeds):
        raise SercrossError(f"seeds must be non-negative integers, got {s!r}", hint="e.g. --seeds 5 or --seeds 0,1")
    return tuple(seeds)


def method_groups() -> dict[str, tuple[str, ...]]:
    """Names that stand for several methods in --methods (:func:`sercross.experiments.method_groups`)."""
    from sercross.experiments import method_groups as groups

    return groups()


def parse_methods(text: str | None) -> tuple[str, ...]:
    """Method names and group names (paper, da, ours, spk, all), comma-separated; default: the paper's."""
    from sercross.methods import METHODS, PAPER_METHODS

    if not text or not text.strip():
        return PAPER_METHODS
    groups = method_groups()
    names: list[str] = []
    for item in _items(text):
        if _key(item) in groups:
            names += groups[_key(item)]
            continue
        try:
            names.append(choose("method", item, METHODS))
        except SercrossError:
            near = did_you_mean(item, METHODS) or did_you_mean(item, groups)
            raise SercrossError(f"unknown method {item!r}{near}",
                                hint=f"choose among {', '.join(METHODS)}, or the groups {', '.join(groups)}") from None
    return tuple(dict.fromkeys(names))


def parse_classes(text: str | None) -> tuple[str, ...] | None:
    """``"anger, FEAR,W"`` -> the names as written (``None``: the default set). They are read into classes once the
    corpora are known (a corpus's own labels count too): :func:`sercross.experiments.resolve_classes`. A list that
    names nothing (``''``, ``','``) is refused here."""
    if text is None:
        return None
    names = tuple(_items(text))
    if not names:
        raise SercrossError(f"--classes {text!r} names no class",
                            hint="leave --classes out for the default set, or name them, e.g. anger,fear,sadness")
    return names


def parse_value(text: str) -> object:
    """A setting's value as TOML reads it (``3e-4``, ``false``, ``[1, 1, 3]``, ``"x"``), else the text itself."""
    from sercross.infra import TOMLDecodeError, toml_loads

    try:
        return toml_loads(f"v = {text}")["v"]
    except TOMLDecodeError:
        return text.strip()


def parse_sets(items: Iterable[str] | None, known: Iterable[str] | None = None) -> dict[str, object]:
    """``["ramp=false", "lr=3e-4"]`` -> ``{"ramp": False, "lr": 0.0003}`` (``--set``, repeatable). ``known``: the
    names allowed (default: every method and training setting), an unknown one refused with the closest."""
    from sercross.experiments import SETTINGS

    known = list(known) if known is not None else list(SETTINGS)
    out: dict[str, object] = {}
    for item in items or ():
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise SercrossError(f"--set {item!r} is not NAME=VALUE", hint="e.g. --set ramp=false --set lr=3e-4")
        if name not in known:
            raise SercrossError(f"--set: unknown setting {name!r}{did_you_mean(name, known)}",
                                hint=f"settings: {', '.join(known)}")
        out[name] = parse_value(value)
    return out


def hoist_cache_option(argv: list[str]) -> list[str]:
    """``argv`` with every ``--cache PATH`` (or ``--cache=PATH``) written after the command moved before it.

    ``--cache`` belongs to ``sercross`` itself, and click accepts it only before the command; users write it after
    (``sercross extract berlin --cache X``) as often as before, and no command has an option of that name. Nothing
    after ``--`` is touched; a ``--cache`` without a value is left for click to refuse.
    """
    argv = list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    moved, rest, i = [], [], 0
    while i < end:
        arg = argv[i]
        if arg.startswith("--cache="):
            moved.append(arg)
        elif arg == "--cache" and i + 1 < end:
            moved += argv[i:i + 2]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return moved + rest + argv[end:]
