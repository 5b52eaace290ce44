"""What a sig says, read: the ``DoseReading`` and its parts (product-independent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from mtmrules.knowledge.dose import format_number

#: reading status: read (a daily amount follows), variable (sliding scale), weight-based (mg/kg),
#: unreadable (with a reason)
READ, VARIABLE, WEIGHT_BASED, UNREADABLE = "read", "variable", "weight-based", "unreadable"


def span(lo: float, hi: float, unit: str = "") -> str:
    """'2 tablet' or '1-2 tablet'."""
    text = format_number(lo) if lo == hi else f"{format_number(lo)}-{format_number(hi)}"
    return f"{text} {unit}".strip()


@dataclass(frozen=True)
class Quantity:
    """An amount per administration, possibly a range: 1-2 each, 500 mg, 15 mg/kg, 5 mL."""

    lo: float
    hi: float
    unit: str          # mg | unit | meq | mmol | mL | each | actuation | drop | patch | vial | application | dose
    per_kg: bool = False
    noun: str | None = None   # the counted form as written: tablet, capsule, suppository … (for wording only)

    # every new sig builds a reading of these: the fields set in one step, not by the generated frozen
    # __init__'s object.__setattr__ per field (same parameters, order and defaults as the fields)
    def __init__(self, lo, hi, unit, per_kg=False, noun=None):
        object.__setattr__(self, "__dict__", {"lo": lo, "hi": hi, "unit": unit, "per_kg": per_kg, "noun": noun})

    def __str__(self) -> str:
        return span(self.lo, self.hi, self.unit + ("/kg" if self.per_kg else ""))


@dataclass(frozen=True)
class Clause:
    """One administration pattern: amount × administrations per day, at some times, on some days."""

    amount: Quantity | None              # as written (count of product units or a mass)
    alternative: Quantity | None         # "1 tab (500 mg)": the other way the same amount was written
    per_day: tuple[float, float] | None  # administrations per day, min-max
    anchors: tuple[str, ...] = ()        # morning, noon, evening, bedtime, breakfast, lunch, dinner, HH:MM …
    days: tuple[str, ...] = ()           # days of the week when given (mon … sun)
    sites: int = 1                       # 2 for "each nostril", "both eyes"
    daily_total: bool = False            # "1 g daily in divided doses": the amount is already per day
    rate_per_day: Quantity | None = None  # "21 mg/24 hr" written in the sig (patches)
    worn_hours: float | None = None       # a patch worn part of each day ("remove after 12 hours")

    def __init__(self, amount, alternative, per_day, anchors=(), days=(), sites=1, daily_total=False,
                 rate_per_day=None, worn_hours=None):   # see Quantity.__init__
        object.__setattr__(self, "__dict__", {
            "amount": amount, "alternative": alternative, "per_day": per_day, "anchors": anchors, "days": days,
            "sites": sites, "daily_total": daily_total, "rate_per_day": rate_per_day, "worn_hours": worn_hours})

    def describe(self) -> str:
        parts = [str(self.amount) if self.amount else "no amount"]
        if self.alternative:
            parts.append(f"({self.alternative})")
        if self.sites > 1:
            parts.append(f"× {self.sites} sites")
        if self.daily_total:
            parts.append("per day in total")
        elif self.per_day:
            parts.append(f"× {span(*self.per_day)}/day")
        else:
            parts.append("× ?/day")
        if self.anchors:
            parts.append("at " + ", ".join(self.anchors))
        if self.days:
            parts.append("on " + "/".join(self.days))
        if self.worn_hours:
            parts.append(f"worn {format_number(self.worn_hours)} h a day")
        return " ".join(parts)


@dataclass(frozen=True)
class Phase:
    """Clauses taken together (concurrently) for ``days`` days (None: no end written)."""

    clauses: tuple[Clause, ...]
    days: float | None = None


@dataclass(frozen=True)
class Cap:
    """A written maximum: ``value`` ``unit`` per ``per_days`` days; ``unit`` 'dose' caps administrations."""

    value: float
    unit: str | None          # None: in the unit of the amount ("mdd 6")
    per_days: float = 1.0
    ingredient_words: tuple[str, ...] = ()   # "max 4 g of acetaminophen a day"

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        per = "day" if self.per_days == 1 else f"{format_number(self.per_days)} days"
        return f"max {format_number(self.value)}{unit} per {per}"


@dataclass(frozen=True)
class DoseReading:
    """A sig, read: phases of clauses, PRN, written cap, duration, timing anchors, status and trace."""

    text: str
    status: str = READ
    reason: str | None = None
    phases: tuple[Phase, ...] = ()
    prn: bool = False
    cap: Cap | None = None
    duration_days: float | None = None
    until_gone: bool = False
    trace: tuple[str, ...] = field(default=(), compare=False)

    def __init__(self, text, status=READ, reason=None, phases=(), prn=False, cap=None, duration_days=None,
                 until_gone=False, trace=()):   # see Quantity.__init__
        object.__setattr__(self, "__dict__", {
            "text": text, "status": status, "reason": reason, "phases": phases, "prn": prn, "cap": cap,
            "duration_days": duration_days, "until_gone": until_gone, "trace": trace})

    # anchors and per_day are asked for every medication entry, and a reading is shared by every entry with
    # the same sig: computed once (a frozen dataclass may hold a cached_property; fields, eq and repr ignore it)
    @cached_property
    def anchors(self) -> tuple[str, ...]:
        """Timing anchors of the current (first) phase, in order: morning, bedtime, 08:00 …"""
        if not self.phases:
            return ()
        return tuple(dict.fromkeys(a for c in self.phases[0].clauses for a in c.anchors))

    @property
    def days_of_week(self) -> tuple[str, ...]:
        if not self.phases:
            return ()
        days = {d for c in self.phases[0].clauses for d in c.days}
        return tuple(d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if d in days)

    @cached_property
    def per_day(self) -> tuple[float, float] | None:
        """Administrations per day in the current phase (min, max), capped by a written maximum of doses."""
        if not self.phases or any(c.per_day is None for c in self.phases[0].clauses):
            return None
        lo = sum(c.per_day[0] for c in self.phases[0].clauses if c.per_day)
        hi = sum(c.per_day[1] for c in self.phases[0].clauses if c.per_day)
        if self.cap and self.cap.unit == "dose":
            hi = min(hi, self.cap.value / self.cap.per_days)
            lo = min(lo, hi)
        return lo, hi

    def describe(self) -> str:
        """One line: '1-2 each × 4-6/day, as needed, max 6 per day'."""
        return self._described

    @cached_property   # every dose note of every entry with this sig starts with it: written once per reading
    def _described(self) -> str:
        if self.status == UNREADABLE:
            return f"unreadable: {self.reason}"
        parts = []
        for index, phase in enumerate(self.phases):
            text = " + ".join(c.describe() for c in phase.clauses)
            if phase.days:
                text += f" for {format_number(phase.days)} days"
            parts.append(text if index == 0 else f"then {text}")
        if self.prn:
            parts.append("as needed")
        if self.cap:
            parts.append(str(self.cap))
        if self.until_gone:
            parts.append("until gone")
        elif self.duration_days and len(self.phases) == 1 and not self.phases[0].days:
            parts.append(f"for {format_number(self.duration_days)} days")
        if self.status == VARIABLE:
            parts.append(f"variable ({self.reason})")
        return ", ".join(parts)
