"""Units, amounts and product strengths: the quantities that sig reading (``mtmrules.knowledge.sig``) and
the dose rules share. "21 mg/24 hr" is a rate, "250 mg/5 mL" a concentration, "160/4.5 mcg/actuation"
two strengths of one inhaler, "50-1000 mg" two strengths of one tablet, in product order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Mass units normalise to mg; other countable units are kept as they are.
MASS_TO_MG = {"g": 1000.0, "gm": 1000.0, "gram": 1000.0, "grams": 1000.0, "mg": 1.0,
              "milligram": 1.0, "milligrams": 1.0, "mcg": 0.001, "µg": 0.001, "ug": 0.001,
              "microgram": 0.001, "micrograms": 0.001}
UNIT_WORDS = {"unit": "unit", "units": "unit", "u": "unit", "iu": "unit", "unt": "unit",
              "meq": "meq", "mmol": "mmol"}


@dataclass(frozen=True)
class Amount:
    """A quantity with a unit: ``mg``, ``unit``, ``mL``, ``tablet``, ``actuation`` …"""

    value: float
    unit: str

    @property
    def is_mass(self) -> bool:
        return self.unit == "mg"

    def __str__(self) -> str:
        return f"{format_number(self.value)} {self.unit}"


def format_number(value: float) -> str:
    """Compact, deterministic number text: 1000 → '1000', 0.125 → '0.125'."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def normalise_unit(word: str) -> tuple[str, float] | None:
    """Map a mass or activity unit word to (canonical unit, factor to it); None if not one we know."""
    w = word.lower().rstrip(".")
    if w in MASS_TO_MG:
        return "mg", MASS_TO_MG[w]
    if w in UNIT_WORDS:
        return UNIT_WORDS[w], 1.0
    return None


_UNIT_WORD = r"(mg|mcg|µg|ug|g|units?|unt|iu|meq|mmol)"
_PER = (r"(?:\s*/\s*(\d+(?:\.\d+)?)?\s*(ml|l|actuat(?:ion)?s?|actuat|inh(?:alation)?s?|dose|puffs?|sprays?|"
        r"hr|hours?|h|day|24\s*hr?)\b)?")
_STRENGTH_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*" + _UNIT_WORD + r"\b" + _PER, re.IGNORECASE)
# "50-1000 mg", "5/325 mg", "160/4.5 mcg/actuation", "0.5-2.5 mg/3 mL": one unit for every ingredient
_SHARED_RE = re.compile(r"(\d+(?:\.\d+)?)\s*[-/]\s*(\d+(?:\.\d+)?)(?:\s*[-/]\s*(\d+(?:\.\d+)?))?\s*"
                        + _UNIT_WORD + r"\b" + _PER, re.IGNORECASE)


@dataclass(frozen=True)
class Strength:
    """Amount of an ingredient per unit of product: per tablet/actuation (per_volume_ml None), per
    ``per_volume_ml`` mL, or, for transdermal systems, per hour (``per`` 'hour') over ``hours`` of wear."""

    amount: Amount
    per_volume_ml: float | None = None
    per: str | None = None  # "mL", "actuation", "hour"
    hours: float = 1.0      # "21 mg/24 hr": rate per hour, written over 24 hours; "15 mg/16 hr": 16 hours


def _strength(value: float, unit_word: str, per_number: str | None, per_word: str | None) -> Strength | None:
    unit = normalise_unit(unit_word)
    if unit is None:
        return None
    amount = Amount(value * unit[1], unit[0])
    per = (per_word or "").lower().replace(" ", "")
    if per in ("ml", "l"):
        volume = float(per_number or 1) * (1000.0 if per == "l" else 1.0)
        return Strength(amount, volume, "mL")
    if per.startswith(("actuat", "inh", "dose", "puff", "spray")):
        return Strength(amount, None, "actuation")
    if per in ("hr", "hour", "hours", "h", "24hr", "24h", "day"):
        hours = 24.0 if per in ("day", "24hr", "24h") else float(per_number or 1)
        return Strength(Amount(amount.value / hours, amount.unit), None, "hour", hours)
    return Strength(amount)


#: number forms a product string must not be read from: exponent notation ("1e3 mg"), a negative sign ("-500 mg")
_IMPLAUSIBLE_RE = re.compile(r"\d(?:\.\d+)?e[+-]?\d|(?:^|[\s(,;:])-\s*\.?\d", re.IGNORECASE)


def parse_strengths(text: str) -> list[Strength]:
    """All strengths in a product string, in product order: 'hydrocodone 5 mg/acetaminophen 325 mg' → two;
    'sitagliptin-metformin 50-1000 mg' → two; 'nicotine 21 mg/24 hr' → 0.875 mg per hour over 24 hours.
    None when a strength is written in a form that must not be guessed (negative, exponent, zero)."""
    if _IMPLAUSIBLE_RE.search(text):
        return []
    found = _parse_strengths(text)
    return [] if any(s.amount.value <= 0 for s in found) else found


def _parse_strengths(text: str) -> list[Strength]:
    shared = _SHARED_RE.search(text)
    if shared and not re.match(r"\s*(mg|mcg|g|unit)", text[shared.end():], re.IGNORECASE):
        numbers = [g for g in shared.groups()[:3] if g is not None]
        found = [_strength(float(n), shared.group(4), shared.group(5), shared.group(6)) for n in numbers]
        if (shared.group(6) or "").lower().replace(" ", "") in ("hr", "hour", "hours", "h", "day", "24hr", "24h"):
            found = found[:1]   # "21 mg/24 hr" is one rate, not a pair
        else:
            return [s for s in found if s is not None]
    out = []
    for match in _STRENGTH_RE.finditer(text):
        strength = _strength(float(match.group(1)), match.group(2), match.group(3), match.group(4))
        if strength is not None:
            out.append(strength)
    return out
