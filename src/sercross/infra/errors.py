"""The one exception type for mistakes a user can fix.

The CLI turns a :class:`SercrossError` into a one-line message plus a hint and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SercrossError(Exception):
    """A user-facing error: what went wrong, and what to do about it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class DamagedFileError(SercrossError, ValueError):
    """A cache file that cannot be parsed (cut short, edited by hand, another program's file).

    Also a ValueError, so code that tolerates unreadable files (``except (OSError, ValueError)``) still does.
    """
