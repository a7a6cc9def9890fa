"""The command that trains, finds or reports a run, written from what the run stored: every hint sercross prints
is a command that works as printed (class set, preset, changed settings and feature set included)."""

from __future__ import annotations

import re
import shlex

from sercross.experiments.keys import PairKey
from sercross.experiments.recipes import SHORT_TAGS, setting_text
from sercross.features import DEFAULT_FEATURE_SET

# The flags of `sercross train` for the settings tags always carried; any other setting is `--set name=value`.
FLAGS = {"epochs": "--epochs", "lr": "--lr", "batch_size": "--batch-size"}
_SHORT_PART = re.compile(r"^(e|lr|b)([0-9.eE+-]+)$")


def run_key(cfg: dict) -> PairKey:
    """The pair key of a run's config.json (runs before class sets were part of it: the default set)."""
    chosen = cfg.get("class_set", "default") != "default"
    return PairKey(cfg["source"], cfg["target"], tuple(cfg["classes"]) if chosen else None)


def run_recipe(cfg: dict) -> tuple[str, dict]:
    """``(preset, changed settings)`` of a run's config.json; older runs: read from the tag (``paper_e20_lr0.0003``)."""
    recipe = cfg.get("recipe")
    if recipe:
        return recipe.get("preset", "paper"), dict(recipe.get("settings") or {})
    head, *parts = str(cfg.get("preset", "paper")).split("_")
    names = {short: name for name, short in SHORT_TAGS.items()}
    settings: dict = {}
    for part in parts:
        m = _SHORT_PART.match(part)
        if m:
            value = float(m.group(2))
            settings[names[m.group(1)]] = int(value) if m.group(1) in ("e", "b") else value
    return head, settings


def setting_options(settings: dict) -> list[str]:
    """Command-line options giving ``settings``: --epochs/--lr/--batch-size, else ``--set name=value``."""
    out: list[str] = []
    for name, value in settings.items():
        if name in FLAGS:
            out += [FLAGS[name], f"{value:g}" if isinstance(value, float) else str(value)]
    for name, value in settings.items():
        if name not in FLAGS:
            text = setting_text(name, tuple(value) if isinstance(value, list) else value)
            out += ["--set", f"{name}={text}"]
    return out


def pair_options(key: PairKey) -> list[str]:
    out = ["--source", key.source, "--target", key.target]
    return out + (["--classes", ",".join(key.classes)] if key.classes is not None else [])


def run_command(cfg: dict, command: str = "train", method: str | None = None, seed: int | None = None) -> str:
    """``sercross train …`` (or ``evaluate``) with every option that makes (finds) the run of config.json ``cfg``;
    ``method`` and ``seed`` replace the run's own (a run of another method with the same settings)."""
    preset, settings = run_recipe(cfg)
    args = ["sercross", command, *pair_options(run_key(cfg)), "--method", method or cfg["method"],
            "--preset", preset, *setting_options(settings), "--seed", str(cfg["seed"] if seed is None else seed)]
    features = cfg.get("feature_set", DEFAULT_FEATURE_SET)
    if features != DEFAULT_FEATURE_SET:
        args += ["--features", features]
    return shlex.join(args)


def report_command(cfg: dict) -> str:
    """``sercross report`` on every run of the pair (class set included) of config.json ``cfg``, with its tag."""
    return shlex.join(["sercross", "report", *pair_options(run_key(cfg)), "--preset", str(cfg.get("preset"))])


def recipe_command(key: PairKey, recipe, seed: int, command: str = "train") -> str:
    """``sercross train …`` (or ``evaluate``) of the run of ``recipe`` on the pair of ``key`` with ``seed``."""
    cfg = {"source": key.source, "target": key.target, "class_set": "default" if key.default else "chosen",
           "classes": list(key.classes or ()), "method": recipe.method, "seed": seed, "recipe": recipe.to_dict(),
           "feature_set": recipe.feature_set}
    return run_command(cfg, command)
