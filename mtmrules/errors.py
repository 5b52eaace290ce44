"""Errors users see: one line naming the file, the place in it and what was expected."""

from __future__ import annotations


class MtmRulesError(Exception):
    """Base class for every error mtmrules reports to a user (CLI exit code 2)."""


class InputError(MtmRulesError):
    """Bad input: a profile, a rule pack or a knowledge table that cannot be used.

    ``str(error)`` is the one-line message: ``file:line: field: what was expected``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 where: str | None = None) -> None:
        self.file, self.line, self.where, self.reason = file, line, where, message
        place = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [p for p in (place, where, message) if p]
        super().__init__(": ".join(parts))
