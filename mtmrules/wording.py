"""Small text helpers shared by the command line and the renderers."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``plural(1, "rule")`` → '1 rule'; ``plural(2, "rule")`` → '2 rules'; irregular forms via ``many``."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
