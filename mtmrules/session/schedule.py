"""The patient's daily schedule: which medicine at which time of day, how many each time, and what is
taken only when needed, for a short time, or on one day of the week or month.

Timing comes first from the sig's own words ("at bedtime", "with breakfast", "in the morning"), then
from the label's timing (``knowledge/administration_timing.csv``) for once-daily drugs, then from the
number of doses a day. Medicines are only put side by side where their labels allow it: a drug that
must be taken alone on an empty stomach (levothyroxine, oral bisphosphonates) gets its own time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

#: the columns of the printed schedule, in the order of the day
SLOTS = ("alone", "waking", "morning", "midday", "evening", "bedtime")
SLOT_LABELS = {"alone": "First thing, alone", "waking": "Before breakfast", "morning": "Morning",
               "midday": "Midday", "evening": "Evening", "bedtime": "Bedtime"}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Timing words in a sig → an anchor. Slot anchors place a dose; meal anchors say "with food".
_ANCHORS: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.IGNORECASE), a) for p, a in [
    (r"\b(at bedtime|bedtime|before bed|q\.?h\.?s\.?|hs|at night|nightly|every night|before sleep)\b", "bedtime"),
    (r"\b(before breakfast|on an empty stomach in the morning|on waking|upon waking|on rising)\b", "waking"),
    (r"\b(in the morning|every morning|each morning|q\.?a\.?m\.?|with breakfast|after breakfast)\b", "morning"),
    (r"\b(at noon|midday|with lunch)\b", "midday"),
    (r"\b(in the evening|every evening|each evening|q\.?p\.?m\.?|with (?:supper|dinner|the evening meal))\b", "evening"),
    (r"\b(with (?:meals|food|a meal|breakfast|lunch|supper|dinner|the evening meal)|after meals|p\.?c\.?)\b",
     "with-food"),
    (r"\b(before meals|a\.?c\.?|empty stomach)\b", "empty-stomach"),
]]
_DURATION = re.compile(r"\b(?:x|for)\s*(\d+)\s*(days?|d|weeks?|wks?)\b", re.IGNORECASE)
_TAPER = re.compile(r"\b(then|taper|decrease by|reduce by)\b", re.IGNORECASE)
_WEEKDAY = re.compile(r"\b(mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?s?\b", re.IGNORECASE)
_BY_COUNT = {1: ("morning",), 2: ("morning", "evening"), 3: ("morning", "midday", "evening"),
             4: ("morning", "midday", "evening", "bedtime")}


def sig_anchors(text: str | None) -> tuple[str, ...]:
    """The timing anchors a sig or frequency text names, in the order of :data:`_ANCHORS`."""
    if not text:
        return ()
    return tuple(anchor for pattern, anchor in _ANCHORS if pattern.search(text))


def schedule_slots(per_day: float | None, anchors: tuple[str, ...], timing: dict | None) -> tuple[str, ...]:
    """The times of day for a scheduled (not as-needed) medicine taken ``per_day`` times a day.

    The sig's own anchors win; a once-daily drug without one follows its label timing (``timing``: a
    row of administration_timing.csv); otherwise doses are spread over the day. Empty when the doses
    cannot be placed in the day's columns (more than 4 a day, or fewer than 1)."""
    if per_day is None or per_day < 1 or round(per_day) > len(_BY_COUNT):
        return ()
    count = round(per_day)
    alone = (timing or {}).get("constraint") == "empty-stomach-alone"
    named = tuple("alone" if alone and slot == "waking" else slot for slot in SLOTS if slot in anchors)
    if len(named) == count:
        return named
    if count == 1:
        if named:
            return named[:1]
        slot = (timing or {}).get("slot", "any")
        constraint = (timing or {}).get("constraint", "")
        if slot == "morning" and constraint == "empty-stomach-alone":
            return ("alone",)
        if slot == "morning" and constraint == "empty-stomach":
            return ("waking",)
        return (slot,) if slot in SLOTS else ("morning",)
    return _BY_COUNT[count]


def course_days(text: str | None) -> int | None:
    """How many days a short course lasts, from "x 7 days" / "for 2 weeks"; None if not stated."""
    found = _DURATION.search(text or "")
    if not found:
        return None
    n = int(found.group(1))
    return n * 7 if found.group(2).lower().startswith("w") else n


def is_taper(text: str | None) -> bool:
    """A sig with phases ("2 tabs daily x 3 days then 1 tab daily x 3 days")."""
    return bool(text and _TAPER.search(text) and course_days(text))


def weekday(text: str | None, start: date | None) -> str | None:
    """The day a weekly medicine is taken: the day the sig names, else the weekday of the start date."""
    found = _WEEKDAY.search(text or "")
    if found:
        prefix = found.group(1).lower()[:2]
        return next(d for d in DAY_NAMES if d.lower().startswith(prefix))
    return DAY_NAMES[start.weekday()] if start else None


@dataclass
class ScheduleRow:
    """One medicine in the daily table: how much at each time, and what to keep in mind."""

    medicine: str
    amounts: dict[str, str]                 # slot → "1 tablet"
    notes: list[str] = field(default_factory=list)


@dataclass
class OtherTime:
    """A medicine not taken every day at fixed times: as needed, a short course, weekly or monthly."""

    medicine: str
    kind: str                               # as-needed | short-course | weekly | monthly | other
    how: str                                # the sentence, e.g. "Take 1 tablet by mouth up to 3 times a day when needed for knee pain."
    until: str | None = None                # last day of a short course (ISO date), when known


@dataclass
class Schedule:
    rows: list[ScheduleRow] = field(default_factory=list)
    other: list[OtherTime] = field(default_factory=list)

    def column(self, slot: str) -> list[str]:
        """Medicines taken at ``slot``, in table order."""
        return [row.medicine for row in self.rows if slot in row.amounts]

    def used_slots(self) -> tuple[str, ...]:
        return tuple(slot for slot in SLOTS if self.column(slot))

    def to_dict(self) -> dict:
        return {"rows": [row.__dict__ for row in self.rows], "other": [o.__dict__ for o in self.other]}


def course_end(start: date | None, days: int) -> date | None:
    """Last day of a course of ``days`` days that began on ``start`` (day 1)."""
    return start + timedelta(days=days - 1) if start else None
