"""The one exception type a user can cause, printed by the CLI without a traceback."""
from __future__ import annotations

__all__ = ["BotsiftError", "first_line"]


class BotsiftError(Exception):
    """A problem the user can fix: bad input, missing model, mismatched features.

    The message says what is wrong and what to do about it. The CLI prints it on
    one line and exits non-zero.
    """


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, at most 200 characters ("" if it has none):
    what a one-line error quotes of a library's multi-line message."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
