"""The one exception type a user can cause, printed by the CLI without a traceback."""
from __future__ import annotations

__all__ = ["BotsiftError"]


class BotsiftError(Exception):
    """A problem the user can fix: bad input, missing model, mismatched features.

    The message says what is wrong and what to do about it. The CLI prints it on
    one line and exits non-zero.
    """
