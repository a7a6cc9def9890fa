"""The flags that say how a run is trained (--preset, --epochs, --lr, --batch-size, --precision, --set), declared
once for every command that trains or finds runs, and handed to the command as one :class:`RecipeFlags`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from sercross.cli.common import flag_settings
from sercross.cli.options import BatchSizeOpt, EpochsOpt, LrOpt, PrecisionOpt, PresetOpt, SetOpt


@dataclass(frozen=True)
class RecipeFlags:
    """What the command line says of the training recipe; None: not given (the preset's value stands)."""

    preset: str = "paper"
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    precision: str | None = None
    sets: tuple[str, ...] = ()

    def settings(self) -> dict[str, object]:
        """The settings asked for (:func:`sercross.cli.common.flag_settings`: the flags win over --set)."""
        return flag_settings(list(self.sets), self.epochs, self.lr, self.batch_size, self.precision)

    def recipe(self, method: str, features: str):
        """The :class:`sercross.experiments.Recipe` of ``method`` with these flags."""
        from sercross.experiments import Recipe

        return Recipe.build(method, self.preset, self.settings(), features)


def _param(name: str, annotation, default) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)


# The command-line parameters, in the order --help shows them; ``set_`` because ``set`` is a builtin.
_PARAMETERS = (
    _param("preset", PresetOpt, "paper"),
    _param("epochs", EpochsOpt, None),
    _param("lr", LrOpt, None),
    _param("batch_size", BatchSizeOpt, None),
    _param("precision", PrecisionOpt, None),
    _param("set_", SetOpt, None),
)


def with_recipe_flags(command: Callable) -> Callable:
    """A Typer command whose parameter ``flags: RecipeFlags`` is given on the command line as the six recipe flags.

    Typer reads a command's parameters from its signature: the returned function shows the flags in place of
    ``flags`` and packs them into one RecipeFlags before calling ``command``.
    """
    signature = inspect.signature(command, eval_str=True)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index("flags")

    @functools.wraps(command)
    def with_flags(*args, **kwargs):
        values = {p.name: kwargs.pop(p.name) for p in _PARAMETERS}
        flags = RecipeFlags(values["preset"], values["epochs"], values["lr"], values["batch_size"],
                            values["precision"], tuple(values["set_"] or ()))
        return command(*args, flags=flags, **kwargs)

    with_flags.__signature__ = signature.replace(parameters=[*params[:at], *_PARAMETERS, *params[at + 1:]])
    return with_flags
