"""The one error type the library raises for problems the user can fix."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: printed as one line, never as a traceback.

    ``exit_code`` is 2 for usage problems (a bad flag value) and 1 for failures
    (a missing file, a broken checkpoint).
    """

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def usage_error(message: str, hint: str | None = None) -> UserError:
    """A bad option value or combination: exit code 2."""
    return UserError(message, hint, exit_code=2)


class MissingColumn(UserError):
    """A column named (by --text-column or --label-column) that the corpus does not have, or a plain text has none."""
