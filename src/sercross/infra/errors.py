"""The one exception type for mistakes a user can fix.

The CLI turns a :class:`SercrossError` into a one-line message plus a hint and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


class SercrossError(Exception):
    """A user-facing error: what went wrong, and what to do about it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """``": did you mean 'x'?"`` for the choice closest to ``word`` (case, spaces and ``-``/``_`` aside), or ``""``.

    The one rule behind every "did you mean" of sercross (difflib's ratio of at least 0.5: ``happy`` finds
    ``happiness``, ``tlmlda-plus`` finds ``tlmlda_plus``).
    """
    by_key = {_key(c): c for c in choices}
    near = get_close_matches(_key(str(word)), list(by_key), n=1, cutoff=0.5)
    return f": did you mean {by_key[near[0]]!r}?" if near else ""


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


class DamagedFileError(SercrossError, ValueError):
    """A cache file that cannot be parsed (cut short, edited by hand, another program's file).

    Also a ValueError, so code that tolerates unreadable files (``except (OSError, ValueError)``) still does.
    """
