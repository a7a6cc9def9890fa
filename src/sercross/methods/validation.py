"""Checks the frozen configurations run when they are built: a misspelt or out-of-range setting fails there,
naming the field, the value and what is allowed, instead of silently picking another behaviour later."""

from __future__ import annotations

from collections.abc import Iterable

from sercross.infra import SercrossError, did_you_mean


def check_choice(owner: str, field: str, value: object, choices: Iterable[str]) -> None:
    """``value`` must be one of ``choices``; otherwise a SercrossError with a "did you mean" when one is close."""
    choices = tuple(choices)
    if isinstance(value, str) and value in choices:
        return
    raise SercrossError(f"{owner}.{field}: unknown value {value!r}{did_you_mean(value, choices)}",
                        hint=f"{field} is one of: {', '.join(repr(c) for c in choices)}")


def check_number(
    owner: str,
    field: str,
    value: object,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """``value`` must be a number (an int when ``integer``) within the bounds (open or closed ends)."""
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if ok:
        return
    left = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
    right = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
    wanted = " and ".join(p for p in (left, right) if p)
    kind = "an integer" if integer else "a number"
    typed = isinstance(value, kinds) and not isinstance(value, bool)
    raise SercrossError(f"{owner}.{field} = {value!r} is " + ("out of range" if typed else f"not {kind}"),
                        hint=f"{field} must be {kind}" + (f" {wanted}" if wanted else ""))


def check_bool(owner: str, field: str, value: object) -> None:
    if not isinstance(value, bool):
        raise SercrossError(f"{owner}.{field} = {value!r} is not a boolean", hint=f"{field} is True or False")


def check_sizes(owner: str, field: str, value: object, *, allow_empty: bool = False) -> None:
    """A tuple of positive integers (layer widths)."""
    ok = isinstance(value, tuple) and (allow_empty or len(value) > 0)
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    if not ok:
        raise SercrossError(f"{owner}.{field} = {value!r} is not a tuple of positive integers",
                            hint=f"{field} lists layer widths, e.g. (600, 256)")


def check_names(owner: str, field: str, value: object, choices: Iterable[str]) -> None:
    """A tuple of names, each one of ``choices``."""
    if not isinstance(value, tuple):
        raise SercrossError(f"{owner}.{field} = {value!r} is not a tuple of names",
                            hint=f"{field} lists names among: {', '.join(choices)}")
    for v in value:
        check_choice(owner, field, v, choices)
