"""A sig seen as one amount and one frequency, for callers that word a sig for patients
(``session/lay.py``, ``session/plan.py``). A view over the reader; it reads nothing itself."""

from __future__ import annotations

from dataclasses import dataclass

from mtmrules.knowledge.dose import Amount
from mtmrules.knowledge.sig import UNREADABLE, read_regimen


@dataclass(frozen=True)
class Frequency:
    """How often: administrations per day (the most, weekly = 1/7). ``prn`` marks as-needed use."""

    per_day: float | None
    prn: bool = False
    text: str = ""


@dataclass(frozen=True)
class Regimen:
    """A sig seen as one amount (the first, largest as written) and one frequency (the most often)."""

    amount: Amount | None          # per administration: mg, unit, mL, tablet, capsule, actuation, vial …
    frequency: Frequency | None
    problem: str | None = None     # why it could not be read

    @property
    def prn(self) -> bool:
        return bool(self.frequency and self.frequency.prn)


def parse_regimen(dose: str | float | None, frequency: str | None, sig: str | None) -> Regimen:
    """The sig reader's reading of these fields, as one amount and one frequency."""
    reading = read_regimen(dose, frequency, sig)
    clause = reading.phases[0].clauses[0] if reading.phases else None
    amount = None
    if clause is not None and clause.amount is not None and not clause.amount.per_kg:
        unit = clause.amount.noun or clause.amount.unit
        amount = Amount(clause.amount.hi, unit)
    per_day = reading.per_day[1] if reading.per_day else None
    text = " ".join(str(part) for part in (frequency, sig) if part)
    freq = Frequency(per_day, reading.prn, text) if per_day is not None or reading.prn else None
    return Regimen(amount, freq, reading.reason if reading.status == UNREADABLE else None)


def parse_frequency(text: str | None) -> Frequency | None:
    """Administrations per day (the most) that ``text`` states; None when it states none."""
    return parse_regimen(None, None, text).frequency if text else None


def parse_amount(text: str | None) -> Amount | None:
    """The first amount ``text`` states ("1000 mg", "2 tabs"); None when absent."""
    return parse_regimen(None, None, text).amount if isinstance(text, str) and text else None
