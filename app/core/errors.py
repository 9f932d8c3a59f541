"""Errors the user can act on, as opposed to bugs.

Anything that comes from the environment (a missing file, a corrupt database, a bad import row,
a model too large for memory) is a ``KnownError``: it carries a one-line message naming the thing
and a hint saying what to do.  The CLI prints it without a traceback and the GUI shows it in a
dialog.  Every other exception is a bug and gets the crash dialog / traceback.
"""

from __future__ import annotations

from pathlib import Path


class KnownError(Exception):
    """An error caused by the environment or the user's input, with advice on how to fix it."""

    def __init__(self, message: str, hint: str = "", *, path: Path | str | None = None) -> None:
        self.message = message
        self.hint = hint
        self.path = str(path) if path is not None else None
        super().__init__(self.user_text())

    def user_text(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class InputFileError(KnownError):
    """A file the user gave us cannot be read or understood."""


class ModelError(KnownError):
    """A model file is missing, truncated, not a GGUF, or failed to load."""


class DatabaseError(KnownError):
    """The database is locked, corrupt or from a newer ReplyDesk."""


class NotFoundError(KnownError):
    """A review, draft, document or business id that does not exist."""


class Cancelled(Exception):
    """Raised inside a service when its cancel event was set; not an error for the user."""
