"""Dose, frequency and sig parsing: free text → amount per administration and administrations per day.

Handles what pharmacy systems actually carry: "1000 mg", "0.5mg", "2 tabs", "10 units", "5 mL",
"twice daily", "bid", "q8h", "every 6 hours", "at bedtime", "weekly", and whole sigs such as
"take 2 tablets by mouth twice daily as needed for pain". Nothing here guesses: what cannot be read
is returned as ``None`` with a reason, so rules that need a dose say "not evaluated".
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

# Mass units normalise to mg; other countable units are kept as they are.
MASS_TO_MG = {"g": 1000.0, "gm": 1000.0, "gram": 1000.0, "grams": 1000.0, "mg": 1.0,
              "milligram": 1.0, "milligrams": 1.0, "mcg": 0.001, "µg": 0.001, "ug": 0.001,
              "microgram": 0.001, "micrograms": 0.001}
UNIT_WORDS = {"unit": "unit", "units": "unit", "u": "unit", "iu": "unit", "unt": "unit",
              "meq": "meq", "mmol": "mmol"}
VOLUME_WORDS = {"ml": "mL", "milliliter": "mL", "milliliters": "mL", "cc": "mL", "l": "L"}
COUNT_WORDS = {
    "tab": "tablet", "tabs": "tablet", "tablet": "tablet", "tablets": "tablet",
    "cap": "capsule", "caps": "capsule", "capsule": "capsule", "capsules": "capsule",
    "puff": "actuation", "puffs": "actuation", "spray": "actuation", "sprays": "actuation",
    "actuation": "actuation", "actuations": "actuation", "inhalation": "actuation",
    "inhalations": "actuation", "patch": "patch", "patches": "patch", "drop": "drop",
    "drops": "drop", "suppository": "suppository", "suppositories": "suppository",
    "lozenge": "lozenge", "packet": "packet", "vial": "vial", "ampule": "ampule",
    "pill": "tablet", "pills": "tablet", "each": "each", "application": "application",
}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "half": 0.5,
                 "once": 1, "twice": 2, "thrice": 3}
_NUM = r"(\d+(?:\.\d+)?|\.\d+|\d+/\d+|one|two|three|four|five|six|half)"


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


@dataclass(frozen=True)
class Frequency:
    """How often: administrations per day (weekly = 1/7). ``prn`` marks as-needed use."""

    per_day: float | None
    prn: bool = False
    text: str = ""


def format_number(value: float) -> str:
    """Compact, deterministic number text: 1000 → '1000', 0.125 → '0.125'."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _number(token: str) -> float:
    token = token.lower()
    if token in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[token])
    if "/" in token:
        num, den = token.split("/")
        return float(num) / float(den)
    return float(token)


def normalise_unit(word: str) -> tuple[str, float] | None:
    """Map a unit word to (canonical unit, factor to that unit); None if not a unit we know."""
    w = word.lower().rstrip(".")
    if w in MASS_TO_MG:
        return "mg", MASS_TO_MG[w]
    if w in UNIT_WORDS:
        return UNIT_WORDS[w], 1.0
    if w in VOLUME_WORDS:
        return ("mL", 1000.0) if VOLUME_WORDS[w] == "L" else ("mL", 1.0)
    if w in COUNT_WORDS:
        return COUNT_WORDS[w], 1.0
    return None


_AMOUNT_RE = re.compile(
    _NUM + r"\s*(mg|mcg|µg|ug|g|gm|grams?|milligrams?|micrograms?|units?|iu|u|unt|meq|mmol|ml|cc|l|"
    r"milliliters?|tabs?|tablets?|caps?|capsules?|puffs?|sprays?|actuations?|inhalations?|patch(?:es)?|"
    r"drops?|suppositor(?:y|ies)|lozenge|packet|vial|ampule|pills?|each|application)\b\.?",
    re.IGNORECASE)


def parse_amount(text: str | float | int | None) -> Amount | None:
    """First amount in ``text`` ("1000 mg", "2 tabs", "0.5mg"), normalised; None when absent."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return None  # a bare number has no unit: we do not guess one
    match = _AMOUNT_RE.search(text)
    if not match:
        return None
    unit = normalise_unit(match.group(2))
    if unit is None:
        return None
    return Amount(_number(match.group(1)) * unit[1], unit[0])


_STRENGTH_RE = re.compile(
    r"(\d+(?:\.\d+)?|\.\d+)\s*(mg|mcg|µg|ug|g|units?|unt|iu|meq|mmol)\s*(?:/\s*(\d+(?:\.\d+)?)?\s*"
    r"(ml|l|actuat(?:ion)?s?|actuat|hr|h|24\s*hr?|day)\b)?",
    re.IGNORECASE)


@dataclass(frozen=True)
class Strength:
    """Amount of an ingredient per unit of product: per tablet (per_volume None) or per ``per_volume`` mL."""

    amount: Amount
    per_volume_ml: float | None = None
    per: str | None = None  # "mL", "actuation", "hour" …


def parse_strengths(text: str) -> list[Strength]:
    """All strengths in a product string, in order: 'hydrocodone 5 mg/acetaminophen 325 mg' → two."""
    found = []
    for match in _STRENGTH_RE.finditer(text):
        unit = normalise_unit(match.group(2))
        if unit is None:
            continue
        amount = Amount(float(match.group(1)) * unit[1], unit[0])
        per = (match.group(4) or "").lower().replace(" ", "")
        if per in ("ml", "l"):
            volume = float(match.group(3) or 1) * (1000.0 if per == "l" else 1.0)
            found.append(Strength(amount, volume, "mL"))
        elif per.startswith("actuat"):
            found.append(Strength(amount, None, "actuation"))
        elif per in ("hr", "h", "24hr", "24h", "day"):
            found.append(Strength(amount, None, "day" if per == "day" else "hour"))
        else:
            found.append(Strength(amount))
    # "5/325 mg" (two strengths sharing one unit), common in combination products
    if len(found) <= 1:
        pair = re.search(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*(mg|mcg)\b", text, re.IGNORECASE)
        if pair:
            unit = normalise_unit(pair.group(3))
            assert unit is not None
            return [Strength(Amount(float(pair.group(i)) * unit[1], unit[0])) for i in (1, 2)]
    return found


_FREQ_PATTERNS: list[tuple[re.Pattern[str], float | None]] = [
    (re.compile(p, re.IGNORECASE), v) for p, v in [
        (r"\b(q\.?i\.?d\.?|four times (a |per )?da(y|ily)|4 times (a |per )?da(y|ily))\b", 4.0),
        (r"\b(t\.?i\.?d\.?|three times (a |per )?da(y|ily)|3 times (a |per )?da(y|ily))\b", 3.0),
        (r"\b(b\.?i\.?d\.?|twice (a |per )?da(y|ily)|two times (a |per )?da(y|ily)|2 times (a |per )?da(y|ily)|"
         r"every 12 hours|q12h?)\b", 2.0),
        (r"\b(weekly|once (a |per )?week|every week|q\s?wk|qweek|once weekly)\b", 1 / 7),
        (r"\b(every other day|qod|alternate days)\b", 0.5),
        (r"\b(monthly|once (a |per )?month|every month)\b", 1 / 30),
        (r"\b(every 2 weeks|biweekly)\b", 1 / 14),
        (r"\b(every 3 days|q72h)\b", 1 / 3),
        (r"\b(q\.?d\.?|o\.?d\.?|daily|once (a |per )?da(y|ily)|every day|each day|1 time (a |per )?day|"
         r"q24h?|every 24 hours|at bedtime|q\.?h\.?s\.?|nightly|every night|every morning|q\.?am|"
         r"in the morning|every evening|qpm|once)\b", 1.0),
    ]
]
_EVERY_HOURS = re.compile(r"\b(?:every|q)\s*(\d+(?:\.\d+)?)(?:\s*-\s*\d+)?\s*(?:hours?|hrs?|h)\b", re.IGNORECASE)
_TIMES_DAY = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:x|times)\s*(?:a|per|/)?\s*da(?:y|ily)\b", re.IGNORECASE)
_EVERY_DAYS = re.compile(r"\bevery\s*(\d+(?:\.\d+)?)\s*(days?|weeks?)\b", re.IGNORECASE)
_PRN = re.compile(r"\b(prn|p\.r\.n\.|as needed|when needed|if needed)\b", re.IGNORECASE)


def parse_frequency(text: str | None) -> Frequency | None:
    """Administrations per day from a frequency text; None when the text says nothing we can read."""
    if not text:
        return None
    prn = bool(_PRN.search(text))
    hours = _EVERY_HOURS.search(text)
    if hours and float(hours.group(1)) > 0:
        return Frequency(24.0 / float(hours.group(1)), prn, text)
    times = _TIMES_DAY.search(text)
    if times:
        return Frequency(float(times.group(1)), prn, text)
    days = _EVERY_DAYS.search(text)
    if days and float(days.group(1)) > 0:
        span = float(days.group(1)) * (7 if days.group(2).lower().startswith("week") else 1)
        return Frequency(1 / span, prn, text)
    for pattern, per_day in _FREQ_PATTERNS:
        if pattern.search(text):
            return Frequency(per_day, prn, text)
    if prn:
        return Frequency(None, True, text)
    return None


@dataclass(frozen=True)
class Regimen:
    """What a medication entry says about its dosing, parsed."""

    amount: Amount | None          # per administration, as written (mg, tablet, mL …)
    frequency: Frequency | None
    problem: str | None = None     # why the dose could not be read, if it could not

    @property
    def prn(self) -> bool:
        return bool(self.frequency and self.frequency.prn)


#: a negative number or one in exponent notation: never a dose as written on a label or a sig
_NOT_A_DOSE = re.compile(r"(?<![\w./-])-\.?\d|\d[eE][+-]?\d")
#: per administration, in any unit (mg, units, mL, tablets): above this the value is a typing error
MAX_AMOUNT = 1_000_000.0
#: administrations per day above this (more than every 30 minutes, around the clock) are a typing error
MAX_PER_DAY = 48.0


def _implausible(amount: Amount | None, text: str | None) -> bool:
    if amount is not None and not (math.isfinite(amount.value) and 0 < amount.value <= MAX_AMOUNT):
        return True
    return bool(text and _NOT_A_DOSE.search(text))


@functools.lru_cache(maxsize=65536)
def parse_regimen(dose: str | float | None, frequency: str | None, sig: str | None) -> Regimen:
    """Combine structured dose + frequency, falling back to a sig (cached: populations repeat sigs)."""
    amount = parse_amount(dose) if dose is not None else None
    freq = parse_frequency(frequency) if frequency else None
    if sig:
        amount = amount or parse_amount(sig)
        sig_freq = parse_frequency(sig)
        if freq is None or (freq.per_day is None and sig_freq and sig_freq.per_day is not None):
            freq = sig_freq
    problem = None
    if _implausible(parse_amount(dose) if dose is not None else None, dose if isinstance(dose, str) else None):
        return Regimen(None, freq, f"dose {dose!r} is not a plausible amount")
    if sig and _implausible(parse_amount(sig), sig):
        return Regimen(None, freq, f"sig {sig!r}: the dose is not a plausible amount")
    if freq is not None and freq.per_day is not None and not 0 < freq.per_day <= MAX_PER_DAY:
        return Regimen(amount, None, f"{frequency or sig!r}: {format_number(freq.per_day)} times a day "
                                     "is not a plausible frequency")
    if dose is not None and amount is None:
        problem = f"dose {dose!r} has no unit we can read"
    elif frequency and freq is None:
        problem = f"frequency {frequency!r} not understood"
    elif sig and amount is None and freq is None:
        problem = f"sig {sig!r} not understood"
    return Regimen(amount, freq, problem)
