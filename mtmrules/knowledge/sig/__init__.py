"""Sig and dose reading: prescription directions → ``DoseReading`` → daily amount of each ingredient.

    read_sig("1-2 po q4-6h prn pain mdd 6")          # what the text says (cached per distinct text)
    daily_dose(reading, ingredients, strengths)       # what that means for a product, per ingredient
    read_regimen(dose, frequency, sig)                # a profile entry's structured fields and/or sig

Pipeline: ``tokens`` (normaliser and tokenizer) → ``grammar`` (phrases → clauses → phases) →
``reading.DoseReading`` (with a trace) → ``daily`` (product strengths → per-ingredient amounts).
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from mtmrules.knowledge.sig.daily import DailyDose, daily_dose
from mtmrules.knowledge.sig.grammar import REJECTED, read
from mtmrules.knowledge.sig.reading import (READ, UNREADABLE, VARIABLE, WEIGHT_BASED, Cap, Clause, DoseReading,
                                            Phase, Quantity)

__all__ = ["read_sig", "read_regimen", "daily_dose", "DailyDose", "DoseReading", "Phase", "Clause", "Quantity",
           "Cap", "READ", "UNREADABLE", "VARIABLE", "WEIGHT_BASED"]


@functools.lru_cache(maxsize=65536)
def read_sig(text: str) -> DoseReading:
    """Read one sig (cached per distinct text: populations repeat their sigs)."""
    return read(text)


@functools.lru_cache(maxsize=65536)
def read_regimen(dose: str | float | None, frequency: str | None, sig: str | None) -> DoseReading:
    """A profile entry's dosing: structured ``dose`` + ``frequency`` win over the ``sig`` where given;
    the sig fills in what they leave out. A bare number as dose has no unit and is not guessed."""
    if isinstance(dose, (int, float)) and not isinstance(dose, bool):
        return DoseReading(text=str(dose), status=UNREADABLE, reason=f"dose {dose!r} has no unit we can read")
    structured = " ".join(str(part) for part in (dose, frequency) if part)
    if not structured:
        return read_sig(sig) if sig else DoseReading(text="", status=UNREADABLE, reason="no dose given")
    reading = _explain_structured(read_sig(structured), dose, frequency)
    if not sig:
        return reading
    from_sig = read_sig(sig)
    if dose and frequency:
        return from_sig if reading.status == UNREADABLE and from_sig.status != UNREADABLE else reading
    if from_sig.status != READ or not reading.phases or len(from_sig.phases) != 1 \
            or len(from_sig.phases[0].clauses) != 1 or len(reading.phases[0].clauses) != 1:
        return reading if reading.status == READ else from_sig
    mine, theirs = reading.phases[0].clauses[0], from_sig.phases[0].clauses[0]
    if dose:
        clause = replace(theirs, amount=mine.amount or theirs.amount,
                         alternative=mine.alternative if mine.amount else theirs.alternative)
    else:
        clause = replace(theirs, per_day=mine.per_day or theirs.per_day, anchors=mine.anchors or theirs.anchors,
                         days=mine.days or theirs.days)
    field = "dose" if dose else "frequency"
    return replace(from_sig, text=f"{structured} | {sig}", phases=(Phase((clause,)),),
                   prn=from_sig.prn or reading.prn, cap=reading.cap or from_sig.cap,
                   trace=from_sig.trace + (f"{field} field {structured!r} used instead of the sig's",))


#: the reader's reasons that say only that something is missing: the structured field is named instead
_GENERIC = ("no amount", "no frequency", "as needed with no frequency", "'as directed'")
_ZERO = re.compile(r"\s*0+(?:\.0*)?\s*(?:[a-zµ]|$)", re.IGNORECASE)


def _explain_structured(reading: DoseReading, dose, frequency) -> DoseReading:
    """Reasons that name the structured field that could not be read."""
    if reading.status != UNREADABLE or not (reading.reason or "").startswith(_GENERIC):
        return reading   # a specific reason (a refused number, an interval of 0, a text too long) is kept
    clauses = reading.phases[0].clauses if reading.phases else ()
    if isinstance(dose, str) and _ZERO.match(dose):
        return replace(reading, reason=f"{REJECTED}: dose {dose!r} is zero")
    if dose and (not clauses or clauses[0].amount is None):
        return replace(reading, reason=f"dose {dose!r} has no unit we can read")
    if not dose and clauses and clauses[0].amount is None:
        return replace(reading, reason="no dose given")
    if frequency:
        return replace(reading, reason=f"frequency {frequency!r} not understood")
    return replace(reading, reason="no frequency given")
