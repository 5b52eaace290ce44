"""From a reading and the product to the daily amount of each ingredient.

The product's strengths say what one unit holds: per tablet/capsule/actuation (Strength without volume),
per ``per_volume_ml`` mL (liquids, vials), or per hour (transdermal systems: the rate, whatever the change
interval). Combination products are read per ingredient in product order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from mtmrules.knowledge.dose import Amount, Strength
from mtmrules.knowledge.sig.reading import READ, WEIGHT_BASED, Clause, DoseReading, Quantity, span

_MASSLIKE = ("mg", "unit", "meq", "mmol")
_UNBOUNDED = 1e6   # administrations per day when only a written maximum bounds them
_COUNTED = ("each", "actuation", "drop", "patch", "vial", "application", "dose")
_DEVICES = ("syringe", "pen")   # prefilled injection devices counted in a sig ("inject 1 pen weekly")


class _Unreadable(Exception):
    pass


_NEW_DICT = object()   # DailyDose.amounts not given: a new empty dict, as field(default_factory=dict) gives


@dataclass(frozen=True)
class DailyDose:
    """Daily amount per ingredient (min, max) in canonical units, or why there is none."""

    amounts: dict[str, tuple[Amount, Amount]] = field(default_factory=dict)
    product_units: tuple[float, float, str] | None = None   # "4 drop/day" when no strength converts it
    status: str = READ
    detail: str = ""                       # why there is no amount; or how a written maximum capped it
    reading: DoseReading | None = None     # set when read: the note is written from it on demand

    # one per new product and sig of every patient: the fields set in one step, not by the generated frozen
    # __init__'s object.__setattr__ per field (same parameters, order and defaults as the fields)
    def __init__(self, amounts=_NEW_DICT, product_units=None, status=READ, detail="", reading=None):
        object.__setattr__(self, "__dict__", {
            "amounts": {} if amounts is _NEW_DICT else amounts, "product_units": product_units, "status": status,
            "detail": detail, "reading": reading})

    @property
    def known(self) -> bool:
        return bool(self.amounts)

    @property
    def note(self) -> str:
        """How the dose was read ('read as … → metformin 1000 mg/day'), or why it could not be."""
        if self.reading is None:
            return self.detail
        how = "; ".join(f"{ing} {span(a.value, b.value, a.unit)}/day" for ing, (a, b) in self.amounts.items())
        if not how and self.product_units:
            how = f"{span(*self.product_units)}/day (the product's strength does not convert it to mass)"
        note = f"read as {self.reading.describe()} → {how}" + (f" ({self.detail})" if self.detail else "")
        if self.status == WEIGHT_BASED:
            note += "; weight-based: no weight on record to convert it"
        return note


def _per_admin(amount: Quantity, ingredients: Sequence[str], strengths: Mapping[str, Strength],
               alternative: Quantity | None) -> dict[str, tuple[float, float, str]]:
    """Amount of each ingredient in one administration (lo, hi, unit)."""
    single = len(ingredients) == 1
    if alternative is not None:
        # "1 tab (500 mg)": the mass for a single ingredient, the count for a combination
        mass, count = (amount, alternative) if amount.unit in _MASSLIKE else (alternative, amount)
        if mass.unit in _MASSLIKE and count.unit in _COUNTED:
            amount = mass if single and not mass.per_kg else count
    if amount.unit in _MASSLIKE:
        if single:
            return {ingredients[0]: (amount.lo, amount.hi, amount.unit + ("/kg" if amount.per_kg else ""))}
        same = [strengths.get(i) for i in ingredients]
        if amount.unit == "unit" and all(s and s.amount.unit == "unit" and s.per_volume_ml for s in same):
            total = sum(s.amount.value / s.per_volume_ml for s in same)  # type: ignore[union-attr, operator]
            return {i: (amount.lo * share, amount.hi * share, "unit") for i, s in zip(ingredients, same)
                    for share in [s.amount.value / s.per_volume_ml / total]}  # type: ignore[union-attr, operator]
        raise _Unreadable(f"{amount} for a combination product does not say how much of each ingredient; "
                          "give it in tablets or mL")
    out: dict[str, tuple[float, float, str]] = {}
    for ing in ingredients:
        strength = strengths.get(ing)
        if strength is None or strength.per == "hour":
            continue
        if amount.unit == "mL":
            if not strength.per_volume_ml:
                raise _Unreadable(f"{amount} of a product whose strength is not per mL")
            factor = strength.amount.value / strength.per_volume_ml
        elif amount.unit == "vial" and strength.per_volume_ml:
            factor = strength.amount.value          # the whole unit-dose vial
        elif amount.unit == "each" and amount.noun in _DEVICES and strength.per_volume_ml \
                and strength.per_volume_ml < 1:
            # a prefilled syringe or pen whose strength is written per its fill volume ("40 mg/0.4 mL",
            # "1.5 mg/0.5 mL") holds one dose; a pen labelled per mL or per 1.5-3 mL holds several
            factor = strength.amount.value
        elif amount.unit == "drop" and strength.per_volume_ml:
            continue                                # a drop's volume is not known
        elif strength.per_volume_ml:
            if amount.unit == "each" and amount.noun in _DEVICES:
                raise _Unreadable(f"{span(amount.lo, amount.hi)} {amount.noun} of a product "
                                  "labelled per mL or per a multi-dose volume: how much is one dose is not "
                                  "written; give mg or mL")
            if amount.unit == "each":
                raise _Unreadable(f"{span(amount.lo, amount.hi)} without a unit for a liquid; give mL")
            continue
        else:
            factor = strength.amount.value
        out[ing] = (amount.lo * factor, amount.hi * factor, strength.amount.unit)
    return out


def daily_dose(reading: DoseReading, ingredients: Sequence[str], strengths: Mapping[str, Strength],
               form: str | None = None, weight_kg: float | None = None) -> DailyDose:
    """Daily amount of each ingredient for ``reading`` of a product with these ingredients, strengths and
    form; a weight-based amount (mg/kg) becomes mg when ``weight_kg`` is known."""
    if reading.status not in (READ, WEIGHT_BASED):
        return DailyDose(status=reading.status, detail=reading.reason or reading.status)
    if not ingredients:
        return DailyDose(status="unreadable", detail="the product is not known")
    rates = {i: s for i, s in strengths.items() if s.per == "hour" and i in ingredients}
    try:
        if rates:
            return _patch(reading, rates)
        return _daily(reading, ingredients, strengths, form, weight_kg)
    except _Unreadable as exc:
        return DailyDose(status="unreadable", detail=str(exc))


def _patch(reading: DoseReading, rates: Mapping[str, Strength]) -> DailyDose:
    """A transdermal system delivers its rate all day, whatever the change interval: rate × 24 h × patches."""
    first = reading.phases[0].clauses if reading.phases else ()
    count = first[0].amount if first and first[0].amount and first[0].amount.unit in ("patch", "each") else None
    lo, hi = (count.lo, count.hi) if count else (1.0, 1.0)
    # worn all day; a system labelled for less than a day ("15 mg/16 hr") is worn that long, and a sig that
    # says how long it stays on ("remove after 12 hours") is followed
    worn = first[0].worn_hours if first else None
    hours = {i: worn if worn else s.hours if 1 < s.hours < 24 else 24.0 for i, s in rates.items()}
    amounts = {i: (Amount(s.amount.value * hours[i] * lo, s.amount.unit),
                   Amount(s.amount.value * hours[i] * hi, s.amount.unit)) for i, s in rates.items()}
    how = ", ".join(f"{i} {span(a.value, b.value, a.unit)}/day" for i, (a, b) in amounts.items())
    return DailyDose(amounts, detail=f"{span(lo, hi)} patch(es) at the product's rate, worn all day: {how}")


_TOPICAL = ("cream", "gel", "ointment", "lotion", "foam", "paste")


def _clause_daily(clause: Clause, ingredients, strengths, form, weight_kg) -> tuple[
        dict[str, tuple[float, float, str]], tuple[float, float, str] | None]:
    amount = clause.amount
    assert amount is not None
    if clause.rate_per_day is not None:
        amount = clause.rate_per_day
    per_day = (1.0, 1.0) if clause.daily_total or clause.rate_per_day is not None else clause.per_day
    assert per_day is not None
    sites = clause.sites
    if form in _TOPICAL and amount.unit == "mg":
        # "apply 4 g": grams of the cream or gel, not of the drug in it
        return {}, (amount.lo * per_day[0] * sites, amount.hi * per_day[1] * sites, "mg of product")
    per_admin = _per_admin(amount, ingredients, strengths, clause.alternative)
    product = None
    if not per_admin and amount.unit in _COUNTED:
        product = (amount.lo * per_day[0] * sites, amount.hi * per_day[1] * sites, amount.unit)
    out = {}
    for ing, (lo, hi, unit) in per_admin.items():
        if unit.endswith("/kg") and weight_kg:
            lo, hi, unit = lo * weight_kg, hi * weight_kg, unit[:-3]
        out[ing] = (lo * per_day[0] * sites, hi * per_day[1] * sites, unit)
    return out, product


def _daily(reading: DoseReading, ingredients, strengths, form, weight_kg) -> DailyDose:
    phase_totals = []
    product_units = None
    unbounded = False   # a clause of the first phase with no frequency (bounded only by a written maximum)
    current = reading.phases[0] if reading.phases else None
    for phase in reading.phases:
        totals: dict[str, list] = {}
        for clause in phase.clauses:
            if clause.amount is None or (clause.per_day is None and not clause.daily_total):
                if phase is current:
                    if reading.cap is None:
                        raise _Unreadable("no frequency written")
                    unbounded = unbounded or (clause.per_day is None and not clause.daily_total)
                    # no frequency, but a written maximum: the maximum is the daily amount
                    clause = Clause(clause.amount, clause.alternative, (1.0, _UNBOUNDED), sites=clause.sites)
                else:
                    continue
            amounts, product = _clause_daily(clause, ingredients, strengths, form, weight_kg)
            if product and phase is current:
                product_units = product if product_units is None else \
                    (product_units[0] + product[0], product_units[1] + product[1], product[2])
            for ing, (lo, hi, unit) in amounts.items():
                if ing in totals and totals[ing][2] != unit:
                    raise _Unreadable(f"{ing} written in both {totals[ing][2]} and {unit}")
                cur = totals.setdefault(ing, [0.0, 0.0, unit])
                cur[0] += lo
                cur[1] += hi
        phase_totals.append(totals)
    first = phase_totals[0]
    if not first and product_units is None:
        missing = [i for i in ingredients if i not in strengths]
        why = "strength of the product is unknown" if missing else "the amount does not convert to the product"
        raise _Unreadable(f"{why}, so {reading.phases[0].clauses[0].amount} cannot be converted to an "
                          "amount of each ingredient")
    result = first                          # ingredient → [least, most, unit] per day
    for later in phase_totals[1:]:          # a titration upward: the highest phase is the maximum
        for ing, (lo, hi, unit) in later.items():
            if ing in result and result[ing][2] == unit and hi > result[ing][1]:
                result[ing][1] = hi
    capped = _apply_cap(reading, result, ingredients, strengths, product_units)
    if unbounded and not capped:
        raise _Unreadable(f"the written {reading.cap} is not in a unit that bounds the daily amount")
    if product_units and reading.cap and reading.cap.unit in (None, product_units[2], "each"):
        product_units = (min(product_units[0], reading.cap.value / reading.cap.per_days),
                         min(product_units[1], reading.cap.value / reading.cap.per_days), product_units[2])
    amounts = {}
    status = READ
    for ing, (lo, hi, unit) in result.items():
        amounts[ing] = (Amount(lo, unit), Amount(hi, unit))
        if unit.endswith("/kg"):
            status = WEIGHT_BASED
    return DailyDose(amounts, product_units, status, capped or "", reading)


def _apply_cap(reading: DoseReading, result: dict[str, list], ingredients, strengths,
               product_units) -> str | None:
    cap = reading.cap
    if cap is None or not result:
        return None
    per_day = cap.value / cap.per_days
    unit = cap.unit
    first_amount = reading.phases[0].clauses[0].amount if reading.phases else None
    if unit is None and first_amount is not None:
        unit = first_amount.unit
    scale = None
    if unit == "dose":
        raw_hi = sum(c.per_day[1] if c.per_day else _UNBOUNDED for c in reading.phases[0].clauses)
        scale = per_day / raw_hi
    elif unit in _COUNTED or unit == "mL":
        conv = _per_admin(Quantity(per_day, per_day, unit), ingredients, strengths, None)
        scale = min((conv[i][1] / result[i][1] for i in conv if i in result and result[i][1] > 0), default=None)
    elif unit in _MASSLIKE:
        target = next((i for i in result if any(w in i for w in cap.ingredient_words)), None)
        if target is None:
            masses = [(strengths[i].amount.value, i) for i in result if i in strengths]
            target = max(masses)[1] if masses else next(iter(result))
        if result[target][2] == unit and result[target][1] > 0:
            scale = per_day / result[target][1]
    if scale is None or scale >= 1:
        return None
    for values in result.values():
        values[1] *= scale
        values[0] = min(values[0], values[1])
    return f"capped by the written {cap}"
