"""A reading shown to a pharmacist: as text (with its trace) or as a JSON-ready dict (``mtmrules sig``)."""

from __future__ import annotations

from mtmrules.knowledge.dose import format_number
from mtmrules.knowledge.sig.daily import DailyDose
from mtmrules.knowledge.sig.reading import DoseReading, span


def _quantity(q) -> dict | None:
    return None if q is None else {"min": q.lo, "max": q.hi, "unit": q.unit + ("/kg" if q.per_kg else "")}


def to_dict(reading: DoseReading, product: str | None = None, ingredients: list[str] | None = None,
            dose: DailyDose | None = None) -> dict:
    """Everything the reading holds, in plain JSON types (numbers rounded to 6 places)."""
    per_day = reading.per_day
    out: dict = {
        "sig": reading.text, "status": reading.status, "reason": reading.reason, "reading": reading.describe(),
        "prn": reading.prn,
        "cap": None if reading.cap is None else {"value": reading.cap.value, "unit": reading.cap.unit,
                                                 "per_days": reading.cap.per_days},
        "per_day": None if per_day is None else {"min": round(per_day[0], 6), "max": round(per_day[1], 6)},
        "anchors": list(reading.anchors), "days_of_week": list(reading.days_of_week),
        "duration_days": reading.duration_days, "until_gone": reading.until_gone,
        "phases": [{"days": phase.days, "clauses": [
            {"amount": _quantity(c.amount), "also_written_as": _quantity(c.alternative),
             "per_day": None if c.per_day is None else {"min": round(c.per_day[0], 6), "max": round(c.per_day[1], 6)},
             "anchors": list(c.anchors), "days_of_week": list(c.days), "sites": c.sites,
             "amount_is_daily_total": c.daily_total} for c in phase.clauses]} for phase in reading.phases],
        "trace": list(reading.trace),
    }
    if product is not None:
        out["product"] = {"text": product, "ingredients": ingredients or []}
    if dose is not None:
        out["daily"] = {ing: {"min": round(lo.value, 6), "max": round(hi.value, 6), "unit": lo.unit}
                        for ing, (lo, hi) in dose.amounts.items()}
        out["product_units_per_day"] = None if dose.product_units is None else {
            "min": round(dose.product_units[0], 6), "max": round(dose.product_units[1], 6),
            "unit": dose.product_units[2]}
        out["dose_status"] = dose.status
        out["dose_note"] = dose.note
    return out


def _shown(text: str, limit: int = 200) -> str:
    """Echoed input, shortened when long (a pasted record, not a sig)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def to_text(reading: DoseReading, product: str | None = None, ingredients: list[str] | None = None,
            dose: DailyDose | None = None) -> str:
    """The reading, the daily amounts and the trace, one fact a line."""
    lines = [f"sig:      {_shown(reading.text)}"]
    if product is not None:
        lines.append(f"product:  {_shown(product)} → {', '.join(ingredients or []) or 'not recognised'}")
    lines.append(f"status:   {reading.status}" + (f" ({reading.reason})" if reading.reason else ""))
    lines.append(f"reading:  {reading.describe()}")
    if reading.per_day:
        lines.append(f"per day:  {span(*reading.per_day)} administration(s)")
    if reading.anchors or reading.days_of_week:
        lines.append("timing:   " + ", ".join(reading.anchors + tuple(reading.days_of_week)))
    if dose is not None:
        for ing, (lo, hi) in dose.amounts.items():
            lines.append(f"daily:    {ing} {span(lo.value, hi.value, lo.unit)}")
        if not dose.amounts and dose.product_units:
            lines.append(f"daily:    {span(*dose.product_units)}")
        lines.append(f"note:     {dose.note}")
    if reading.duration_days:
        lines.append(f"duration: {format_number(reading.duration_days)} days")
    lines.append("trace:")
    lines += [f"  - {step}" for step in reading.trace] or ["  (nothing read)"]
    return "\n".join(lines) + "\n"
