"""Text normalisation shared by the drug, condition, allergy and lab resolvers."""

from __future__ import annotations

import functools
import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9.%/+]+")


@functools.lru_cache(maxsize=65536)   # a new medication text is normalised by the resolver, then for its salts
def normalise(text: str) -> str:
    """Lowercase, accents folded, punctuation to single spaces: 'Tylenol® Extra-Strength' → 'tylenol extra strength'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    folded = folded.replace("µ", "u")
    return " ".join(_NON_WORD.sub(" ", folded).replace("/", " / ").replace("+", " + ").split())


def tokens(text: str) -> list[str]:
    """Words of a normalised text (separators such as '/' and '+' are kept as tokens)."""
    return normalise(text).split()
