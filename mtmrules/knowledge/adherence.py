"""Proportion of days covered (PDC), the PQA adherence measure, from dispensing history.

Method (Pharmacy Quality Alliance, restated): the measurement period runs from the first fill
(index date) to the end of the period (here the ``as_of`` date). Each fill covers ``days_supply``
days from its date; when a fill of the same drug arrives before the previous one runs out, it is
shifted to start the day after (early refills are stockpiled, not double-counted). Days covered by
any drug of the group count once. PDC = covered days ÷ days in the period. At least two fills on
different dates are needed. PDC ≥ 80% is the usual adherence threshold.

Refill gap: the days since the last supply ran out (0 while the patient still has supply), with early
refills stockpiled the same way. One fill is enough, so an active medication filled once, long ago,
shows as "no refill for N days — has it been stopped?".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable

Fill = tuple[date, int]


def shifted_intervals(fills: Iterable[Fill]) -> list[tuple[date, date]]:
    """Covered [start, end] intervals of one drug, overlapping fills shifted forward."""
    intervals = []
    next_free: date | None = None
    for day, supply in sorted(fills):
        start = day if next_free is None or day >= next_free else next_free
        end = start + timedelta(days=supply - 1)
        intervals.append((start, end))
        next_free = end + timedelta(days=1)
    return intervals


def pdc(fills_by_drug: dict[str, Iterable[Fill]], as_of: date) -> tuple[float | None, str]:
    """PDC in percent (0-100) over all drugs given, or (None, reason) when it cannot be computed."""
    all_fills = [(d, s) for fills in fills_by_drug.values() for d, s in fills if d <= as_of]
    if len({d for d, _ in all_fills}) < 2:
        return None, "fewer than two fills on record (ask the patient how they take it)"
    index = min(d for d, _ in all_fills)
    period = (as_of - index).days + 1
    covered: set[date] = set()
    for fills in fills_by_drug.values():
        for start, end in shifted_intervals([(d, s) for d, s in fills if d <= as_of]):
            day = start
            while day <= min(end, as_of):
                covered.add(day)
                day += timedelta(days=1)
    value = 100.0 * len(covered) / period
    return round(value, 1), f"{len(covered)} of {period} days covered since {index.isoformat()}"


def refill_gap(fills: Iterable[Fill], as_of: date) -> tuple[int | None, str]:
    """Days without supply at ``as_of`` since the last covered day, or (None, reason) without fills."""
    past = sorted((d, s) for d, s in fills if d <= as_of)
    if not past:
        return None, "no fills on record"
    last_covered = shifted_intervals(past)[-1][1]
    gap = max(0, (as_of - last_covered).days)
    last_day, last_supply = past[-1]
    ran_out = (last_covered + timedelta(days=1)).isoformat()
    when = f"supply ran out on {ran_out}" if gap else f"supplied until {last_covered.isoformat()}"
    return gap, f"last fill {last_day.isoformat()} for {last_supply} days, {when}"


def fills_in_last_year(fills: Iterable[Fill], as_of: date) -> tuple[int, str]:
    """Dispensings (distinct fill dates) in the 365 days up to ``as_of``, e.g. reliever inhalers."""
    start = as_of - timedelta(days=364)
    days = sorted({d for d, _ in fills if start <= d <= as_of})
    return len(days), (f"fills on {', '.join(d.isoformat() for d in days)}" if days else "no fills in the last 365 days")
