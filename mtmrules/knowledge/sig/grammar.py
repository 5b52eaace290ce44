"""The sig grammar: typed tokens → ``DoseReading``.

A hand-written reader, not a parser-generator grammar: a sig is not a sentence of a language but a
run of small, order-free phrases (amount, frequency, interval, anchors, PRN, maximum, duration) with
noise between them. Each phrase has one matcher below; what no matcher takes is skipped (and shown
in the trace). The phrases then group into clauses (one amount with its timing: "1 tab qam and 2 tabs
qhs" is two) and phases (sequential: "then", or clauses each with their own duration — tapers).

Shape::

    sig      := phase ("then" phase)*
    phase    := clause ((","|"and") clause)*
    clause   := amount? (frequency | interval | count-per-period | anchors | days | once | repeat)*
                (sites | prn | cap | duration | divided)*
    amount   := number [("-"|"to"|"or") number] [unit] ["/" "kg"]   |  "up to" number unit
    interval := ("q"|"every") number [("-"|"to") number] [number-word] period
    cap      := ("max"|"mdd"|"not to exceed"|…) number [unit] [("/"|"per"|"in"|"a") [number] period]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mtmrules.knowledge.sig import lexicon as L
from mtmrules.knowledge.sig.reading import (READ, UNREADABLE, VARIABLE, WEIGHT_BASED, Cap, Clause, DoseReading,
                                            Phase, Quantity, span)
from mtmrules.knowledge.dose import format_number
from mtmrules.knowledge.sig.tokens import Rejected, Token, tokenize

#: the reason of every reading refused for its number forms (negative, exponent, absurdly large)
REJECTED = "not a plausible dose"
#: administrations a day above which a reading is a typing error, not a regimen (hourly is the most frequent
#: schedule a sig gives; shorter intervals are per-episode doses, read as such)
MAX_PER_DAY = 24
#: longer sig text is not a sig (NCPDP SCRIPT 2017071 allows 1,000 characters of sig free text)
MAX_SIG_CHARS = 1000
_PLAUSIBLE_HOURS = {1, 2, 3, 4, 5, 6, 8, 10, 12, 18, 24, 36, 48, 72, 96, 168}
_MEALS = ("breakfast", "lunch", "dinner")
_COUNTED = {"each", "actuation", "drop", "patch", "vial", "application", "dose"}


def _kind(amount: Quantity) -> str:
    return "count" if amount.unit in _COUNTED else ("volume" if amount.unit == "mL" else "mass")


@dataclass
class _Clause:
    amount: Quantity | None = None
    alternative: Quantity | None = None
    per_day: tuple[float, float] | None = None
    groups: list[list[tuple[str, int]]] = field(default_factory=list)   # anchor groups: (anchor, count)
    days: list[str] = field(default_factory=list)
    sites: int = 1
    daily_total: bool = False
    rate: Quantity | None = None
    once: bool = False
    repeats: int = 0
    duration: float | None = None
    interval: bool = False
    other_days: bool = False    # "2.5 mg all other days": the days the other clauses do not name
    worn_hours: float | None = None   # a patch worn part of the day ("remove after 12 hours")
    later: bool = False               # "then 1 tab 1 hour later": given the same day as the phase before

    @property
    def timed(self) -> bool:
        return bool(self.per_day or self.groups or self.days or self.once or self.repeats or self.daily_total
                    or self.other_days)

    @property
    def empty(self) -> bool:
        return self.amount is None and not self.timed and self.duration is None


class _Reader:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.t = tokens
        self.i = 0
        self.phases: list[list[_Clause]] = [[]]
        self.clause = _Clause()
        self.phases[0].append(self.clause)
        self.joined = False          # a conjunction since the last anchor/amount
        self.comma = False           # … and that conjunction was a comma ("bid, morning and night")
        self.skip_amount = 0         # tokens left during which an amount is "not the dose"
        self.prn = False
        self.cap: Cap | None = None
        self.sliding: str | bool = False     # the words that make the dose variable ("per sliding scale")
        self.as_directed = False
        self.until = False
        self.rate_problem: str | None = None
        self.problem: str | None = None      # why the text cannot be read, found while assembling
        self.trace: list[str] = []
        self.ignored: list[str] = []
        self.minutes = False
        self.excepted: _Clause | None = None   # "daily except …": the clause whose days the next days remove

    # --- helpers --------------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.t[j] if 0 <= j < len(self.t) else None

    def kind(self, offset: int = 0) -> str | None:
        tok = self.peek(offset)
        return tok.kind if tok else None

    def note(self, text: str) -> None:
        self.trace.append(text)

    def refuse(self, reason: str) -> None:
        """The text says something that is no dose (an interval of 0, a maximum of 0): unreadable, with why."""
        if self.problem is None:
            self.problem = reason
            self.note(f"refused: {reason}")

    def new_clause(self) -> _Clause:
        self.clause = _Clause()
        self.phases[-1].append(self.clause)
        return self.clause

    def number_range(self, at: int = 0) -> tuple[float, float, int] | None:
        """number [(-|to|or) number] at i+at → (lo, hi, tokens used); also '1 1/2'."""
        tok = self.peek(at)
        if tok is None or tok.kind != "num":
            return None
        lo = hi = float(tok.value)  # type: ignore[arg-type]
        used = 1
        nxt = self.peek(at + 1)
        if nxt and nxt.kind == "num" and isinstance(nxt.value, float) and nxt.value < 1 and "/" in nxt.text:
            lo = hi = lo + nxt.value
            used = 2
        elif nxt and nxt.text in ("and", "&", "-") and lo >= 1 and lo == int(lo) and self._fraction(at + 2):
            # a mixed number: "1 and 1/2", "one and one half", "2 & a half", "1-1/2" (never a range: ½ < 1)
            lo = hi = lo + float(self.peek(at + 2).value)  # type: ignore[union-attr, arg-type]
            used = 3
        sep = self.peek(at + used)
        after = self.peek(at + used + 1)
        if sep and sep.kind in ("dash", "to", "or") and after and after.kind == "num":
            top = float(after.value)  # type: ignore[arg-type]
            if top >= lo:
                hi = top
                used += 2
            elif self.kind(at + used + 2) in ("unit", "period", "x"):
                # "2-1 tabs", "q6-4h": a range written backwards is a typing error whose meaning is a guess
                self.refuse(f"the range {tok.text}-{after.text} runs backwards")
        return lo, hi, used

    def _fraction(self, offset: int) -> bool:
        """A fraction below one at i+offset, written as one: "1/2", "half", "one half", "a quarter"."""
        tok = self.peek(offset)
        return bool(tok and tok.kind == "num" and 0 < float(tok.value) < 1  # type: ignore[arg-type]
                    and ("/" in tok.text or not tok.text[0].isdigit()))

    def period_at(self, offset: int) -> tuple[float, int] | None:
        """[number] period at i+offset → (length in days, tokens used)."""
        tok = self.peek(offset)
        if tok is None:
            return None
        if tok.kind == "period":
            return float(tok.value), 1  # type: ignore[arg-type]
        if tok.kind == "freq" and tok.text in ("daily", "per day", "a day", "every day", "each day"):
            return 1.0, 1
        if tok.kind == "freq" and tok.text in ("weekly", "per week", "a week"):
            return 7.0, 1
        if tok.kind == "anchor" and tok.text == "night":
            return 1.0, 1
        if tok.kind == "num":
            nxt = self.peek(offset + 1)
            if nxt and nxt.kind == "period":
                if float(tok.value) <= 0:  # type: ignore[arg-type]
                    self.refuse(f"a period of {tok.text} {nxt.text} is not a frequency or duration")
                    return None
                return float(tok.value) * float(nxt.value), 2  # type: ignore[arg-type]
        return None

    def per_period(self, offset: int) -> tuple[float, int] | None:
        """("/"|per|in|a|every|"x") period, or a bare per-day frequency word, at i+offset."""
        tok = self.peek(offset)
        if tok is None:
            return None
        if tok.kind in ("slash", "per", "every", "for"):
            found = self.period_at(offset + 1)
            if found:
                return found[0], found[1] + 1
            if tok.kind == "per" and self.kind(offset + 1) == "per":   # "in a day"
                found = self.period_at(offset + 2)
                if found:
                    return found[0], found[1] + 2
            return None
        if tok.kind == "freq" and tok.text in ("daily", "per day", "a day", "every day", "each day",
                                               "weekly", "per week", "a week", "per month", "monthly"):
            return 1 / float(tok.value[0]), 1  # type: ignore[index]
        return None

    # --- the scan ------------------------------------------------------------------------------------

    def read(self) -> None:
        while self.i < len(self.t):
            tok = self.t[self.i]
            matcher = _MATCHERS.get(tok.kind)
            used = matcher(self, tok) if matcher else 0
            if not used:
                if tok.kind not in ("per", "other", "to", "or", "dash", "slash", "kg", "equals", "percent"):
                    self.ignored.append(tok.text)
                used = 1
            self.i += used
            if self.skip_amount:
                self.skip_amount = max(0, self.skip_amount - used)

    # --- matchers (each returns the number of tokens it used; 0: not mine) -----------------------------

    def on_number(self, tok: Token) -> int:
        rng = self.number_range()
        assert rng is not None
        lo, hi, used = rng
        nxt = self.peek(used)
        # "3 times a day", "5x/day", "2 x daily", "2-3 times weekly"
        if nxt and nxt.kind == "x":
            found = self.per_period(used + 1) or self.period_at(used + 1)
            if found:
                self.set_per_day((lo / found[0], hi / found[0]), f"{span(lo, hi)} times per "
                                 f"{format_number(found[0])} day(s)")
                return used + 1 + found[1]
        if nxt and nxt.kind == "period" and self.peek(used + 1) and self.peek(used + 1).text == "later" \
                and 0 < hi * float(nxt.value) < 1 and len(self.phases) > 1:  # type: ignore[arg-type]
            # "then 1 tab 1 hour later": the same day as the dose before it, not a next day's phase
            self.clause.later = True
            self.note(f"{tok.text} {nxt.text} later: the same day")
            return used + 2
        if nxt and nxt.kind == "period" and self.peek(used + 1) and self.peek(used + 1).text == "on" \
                and 0 < hi * float(nxt.value) <= 1:  # type: ignore[arg-type, union-attr]
            # "12 hours on, 12 hours off": a patch worn that long each day
            self.clause.worn_hours = hi * float(nxt.value) * 24  # type: ignore[arg-type]
            self.note(f"worn {format_number(self.clause.worn_hours)} h a day")
            return used + 2
        if nxt and nxt.kind == "percent":
            self.note(f"skipped strength {tok.text}%")
            return used + 1
        if nxt and nxt.kind == "unit":
            return self.on_amount(lo, hi, used)
        if nxt and nxt.text in ("a", "of") and self.kind(used + 1) == "unit":   # "half a tablet"
            self.i += 1
            taken = self.on_amount(lo, hi, used)
            self.i -= 1
            return taken + 1
        if self.clause.amount is not None and not self.clause.timed and not self.joined:
            self.note(f"ignored {tok.text}: a number after the amount, before any timing")
            return used
        if nxt and nxt.kind in ("freq", "every", "anchor", "prn", "dow", "time", "unit", "sites", "once") \
                or nxt is None or nxt.kind in ("other", "sep", "and", "then", "rparen") \
                and (nxt.text in ("po", "by", "pill", "orally", "sl", "subq", "pr", "inh", "iv", "im", "sq")
                     or nxt.kind != "other"):
            return self.take_amount(Quantity(lo, hi, "each"), used, f"{span(lo, hi)} (unit of the product)")
        if nxt and nxt.kind == "per" and self.peek(used + 1) and self.kind(used + 1) in ("freq", "period"):
            return self.take_amount(Quantity(lo, hi, "each"), used, f"{span(lo, hi)} (unit of the product)")
        if nxt and nxt.kind == "other":
            # "1 po qd", "2 by mouth": a count of the product's units, if timing follows soon
            for ahead in range(used, used + 4):
                kind = self.kind(ahead)
                if kind in ("freq", "every", "anchor", "prn", "dow", "time", "once"):
                    return self.take_amount(Quantity(lo, hi, "each"), used, f"{span(lo, hi)} (unit of the product)")
                if kind not in ("other", "per"):
                    break
        self.ignored.append(tok.text)
        return used

    def on_amount(self, lo: float, hi: float, used: int) -> int:
        unit, factor = self.peek(used).value  # type: ignore[union-attr, misc]
        used += 1
        # "mg/kg", "mg/kg/day", "mcg/kg/min", "mg/hr", "21 mg/24 hr", "250 mg/5 mL", "50 mcg/actuation"
        if self.kind(used) == "slash" or (self.kind(used) == "per" and self.kind(used + 1) == "kg"):
            after = self.peek(used + 1)
            if after and after.kind == "kg":
                used += 2
                found = self.per_period(used) if self.kind(used) in ("slash", "per") else None
                if found and found[0] < 1:
                    self.rate_problem = "a rate per kg per hour or minute is an infusion, not a daily dose"
                    return used + found[1]
                if found:
                    self.take_amount(Quantity(lo * factor, hi * factor, unit, per_kg=True), 0,
                                     f"{span(lo, hi)} {unit}/kg per day")
                    self.clause.daily_total = True
                    return used + found[1]
                return used + self.take_amount(Quantity(lo * factor, hi * factor, unit, per_kg=True), 0,
                                               f"{span(lo, hi)} {unit}/kg")
            found = self.per_period(used) if self.kind(used) in ("slash", "per") else None
            if found and found[0] <= 1 and unit != "mL":
                per_day = Quantity(lo * factor / found[0], hi * factor / found[0], unit)
                if found[0] < 1:
                    self.clause.rate = per_day
                    self.note(f"rate {span(lo * factor, hi * factor, unit)} per {format_number(found[0] * 24)} h")
                else:
                    return used + found[1] + self.take_amount(per_day, 0, f"{per_day} per day")
                return used + found[1]
            if after and after.kind in ("num", "unit"):
                skip = 2 if after.kind == "num" and self.kind(used + 2) == "unit" else (1 if after.kind == "unit" else 0)
                if skip:
                    self.note(f"skipped strength {span(lo, hi)} {unit}/…")
                    return used + 1 + skip
        noun = L.NOUNS.get(self.peek(used - 1).text) if unit == "each" else None  # type: ignore[union-attr]
        return self.take_amount(Quantity(lo * factor, hi * factor, unit, noun=noun), used,
                                f"{span(lo * factor, hi * factor, unit)}")

    def take_amount(self, amount: Quantity, used: int, what: str) -> int:
        if amount.lo <= 0 < amount.hi:
            # "0-2 tabs": up to two, read as "up to" is (never a dose of 0 mg)
            lo = min(1.0, amount.hi) if amount.unit in _COUNTED else amount.hi
            amount = replace(amount, lo=lo)
            what = f"up to {amount} (a range from 0)"
        if amount.hi <= 0:
            self.note(f"ignored {what}: an amount of zero is not a dose")
            return used
        if self.skip_amount:
            self.note(f"ignored {what}: not this prescription's dose")
            return used
        clause = self.clause
        if clause.amount is None and clause.alternative is None:
            clause.amount = amount
        elif not clause.timed and not self.joined and clause.alternative is None and clause.duration is None \
                and (clause.amount is None or _kind(amount) != _kind(clause.amount)):
            clause.alternative = amount
            self.note(f"amount also written as {amount}")
            return used
        else:
            clause = self.new_clause()
            clause.amount = amount
        self.joined = False
        self.note(f"amount {what}")
        return used

    def on_ratio(self, tok: Token) -> int:
        self.note(f"skipped {tok.text} (a strength or a date, not an amount)")
        return 1

    def on_bare_unit(self, tok: Token) -> int:
        unit, _ = tok.value  # type: ignore[misc]
        if unit in ("each", "actuation", "patch", "vial", "drop") and self.clause.amount is None \
                and tok.text not in ("c", "u", "each", "ea", "dose", "doses", "system", "injection", "pen"):
            return self.take_amount(Quantity(1, 1, unit, noun=L.NOUNS.get(tok.text)), 1,
                                    f"1 {unit} (no number written: one)")
        return 0

    def set_per_day(self, per_day: tuple[float, float], what: str, interval: bool = False) -> None:
        if per_day[1] <= 0:
            self.refuse(f"{what}: no administration a day is not a frequency")
            return
        clause = self.clause
        if clause.per_day is not None and not clause.interval and interval:
            pass   # "bid q12h": the written frequency and the interval agree or the interval adds nothing
        elif clause.per_day is not None and (clause.amount is not None or clause.groups) and self.joined:
            clause = self.new_clause()
            clause.per_day = per_day
        elif clause.per_day is None or interval:
            clause.per_day = per_day
        clause.interval = clause.interval or interval
        self.note(f"frequency {what}: {span(*per_day)}/day")

    def on_frequency(self, tok: Token) -> int:
        per_day, anchors = tok.value  # type: ignore[misc]
        if tok.text == "od" and self.clause.amount and self.clause.amount.unit == "drop":
            self.note("'od' after drops: right eye")
            return 1
        if tok.text in ("per day", "a day", "per week", "a week", "per month") and self.clause.amount is None \
                and self.clause.per_day is not None:
            return 1
        # "daily x 5", "daily x5 days": a duration
        if tok.text in ("once",) and self.kind(1) == "num" and self.kind(2) == "x":
            return 0
        clause = self.clause
        if anchors and self.joined and clause.per_day and clause.groups and clause.amount is not None:
            # "4 times daily before meals and nightly" (ac & hs): the word names one of the administrations
            # already counted, when the times written so far leave room for it
            written = sum(max(count for _, count in group) or 1 for group in clause.groups)
            if written + len(anchors) <= clause.per_day[1] + 1e-9:
                self.add_anchors(anchors)
                self.note(f"{tok.text}: one of the {format_number(clause.per_day[1])} administrations")
                return 1
        top = self.peek(2)
        if self.kind(1) in ("dash", "to", "or") and top and top.kind == "freq" and not anchors \
                and not top.value[1] and top.value[0] > per_day:  # type: ignore[index]
            # "bid-tid", "daily to bid", "tid or qid": a range of frequencies
            self.set_per_day((per_day, float(top.value[0])), f"{tok.text}-{top.text}")  # type: ignore[index]
            return 3
        self.set_per_day((per_day, per_day), tok.text)
        if anchors:
            self.add_anchors(anchors, counted=False)
        return 1

    def on_every(self, tok: Token) -> int:
        j = 1
        nxt = self.peek(j)
        if nxt is None:
            return 0
        if nxt.kind == "num":
            rng = self.number_range(1)
            assert rng is not None
            lo, hi, used = rng
            j += used
            if self.kind(j) == "num" and float(self.peek(j).value) == hi:  # "every 4 four hours"
                j += 1
            per = self.peek(j)
            word = "hours"
            if per and per.kind == "period":
                days = float(per.value)  # type: ignore[arg-type]
                word = per.text
                j += 1
            elif per and per.kind == "freq" and per.text in ("daily",):
                days = 1.0
                word = "days"
                j += 1
            elif hi in _PLAUSIBLE_HOURS:
                days = 1 / 24
                self.note(f"'q{format_number(hi)}' without a unit read as hours")
            else:
                return 0
            if lo <= 0:
                self.refuse(f"every {span(lo, hi)} {word} is not a frequency")
                return j
            if lo * days < 1 / 24 - 1e-9:
                self.minutes = True
                self.note(f"every {span(lo, hi)} minutes: a per-episode interval")
                return j
            self.set_per_day((1 / (hi * days), 1 / (lo * days)), f"every {span(lo, hi)} {word}", interval=True)
            return j
        if nxt.kind == "other-word" and self.kind(2) == "period":
            days = 2 * float(self.peek(2).value)  # type: ignore[arg-type]
            self.set_per_day((1 / days, 1 / days), f"every other {self.peek(2).text}", interval=True)
            return 3
        if nxt.kind == "period":
            days = float(nxt.value)  # type: ignore[arg-type]
            self.set_per_day((1 / days, 1 / days), f"every {nxt.text}", interval=True)
            return 2
        if nxt.kind == "anchor":
            return 1
        if nxt.kind == "dow":
            return 1
        return 0

    def add_anchors(self, anchors: tuple[str, ...], counted: bool = True, one_meal: bool = False) -> None:
        clause = self.clause
        count = (3 if anchors == ("meals",) and not one_meal else len(anchors)) if counted else 0
        if clause.timed and clause.amount is not None and self.joined and not clause.groups and clause.per_day \
                and not (self.comma and count <= clause.per_day[1]):
            # "1 tab daily and at bedtime": another administration; but "bid, morning and night" and
            # "4 times daily, before meals and at bedtime" name the times of the frequency just written
            clause = self.new_clause()
        entry = [(a, count if k == 0 else 0) for k, a in enumerate(anchors)]
        if self.joined or not clause.groups:
            clause.groups.append(entry)
        else:
            last = clause.groups[-1]
            if anchors[0] in _MEALS and any(a == "meals" for a, _ in last):
                # "ac breakfast": before breakfast, not before every meal
                last[:] = [(a, c) for a, c in last if a != "meals"]
                if not last:
                    clause.groups[-1] = entry
                    self.joined = False
                    self.note(f"timing {', '.join(anchors)}")
                    return
            if counted and all(c == 0 for _, c in last):
                last[0] = (last[0][0], count)
            last.extend(entry if not counted or any(c for _, c in last) else entry)
            if counted:
                # one administration per group: keep the largest count of the group on its first anchor
                most = max(c for _, c in last)
                clause.groups[-1] = [(a, most if k == 0 else 0) for k, (a, _) in enumerate(last)]
        self.joined = False
        self.note(f"timing {', '.join(anchors)}")

    def on_anchor(self, tok: Token) -> int:
        anchors = tok.value  # type: ignore[assignment]
        if anchors == ("home",) and not (self.kind(1) == "and" or self.kind(-1) == "and"):
            return 0
        self.add_anchors(anchors, one_meal=tok.text in L.ONE_MEAL)  # type: ignore[arg-type]
        return 1

    def on_time(self, tok: Token) -> int:
        self.add_anchors((str(tok.value),))
        return 1

    def on_days(self, tok: Token) -> int:
        days: list[str] = []
        j = 0
        single_letters = 0
        listed = False     # "M-W-F": dashes separate a list, not a range
        while True:
            cur = self.peek(j)
            if cur is None or cur.kind != "dow":
                break
            value = cur.value
            if isinstance(value, tuple):
                days.extend(value)
            else:
                single_letters += len(cur.text) <= 2
                if self.kind(j + 1) in ("dash", "to") and self.kind(j + 2) == "dow" and \
                        isinstance(self.peek(j + 2).value, str) and not listed and not (
                            self.kind(j + 3) == "dash" and self.kind(j + 4) == "dow"):
                    a, b = L.WEEK.index(value), L.WEEK.index(self.peek(j + 2).value)  # type: ignore[arg-type]
                    days.extend(L.WEEK[a:b + 1] if a <= b else L.WEEK[a:] + L.WEEK[:b + 1])
                    j += 3
                    if self.kind(j) in ("slash", "and") and self.kind(j + 1) == "dow":
                        j += 1
                    continue
                days.append(value)  # type: ignore[arg-type]
            j += 1
            if self.kind(j) in ("slash", "and", "dash") and self.kind(j + 1) == "dow":
                listed = listed or self.kind(j) == "dash"
                j += 1
        if not days or (single_letters and len(days) < 2):
            return 0
        unique = [d for d in L.WEEK if d in days]
        if self.excepted is not None:
            # "1 tab daily except Sunday" / "daily except 7.5 mg on Mondays": the base clause keeps the other days
            self.excepted.days = [d for d in L.WEEK if d not in unique]
            self.note(f"except {'/'.join(unique)}")
            excepted, self.excepted = self.excepted, None
            if excepted is self.clause:
                return j
        self.clause.days.extend(d for d in unique if d not in self.clause.days)
        self.note(f"days {'/'.join(unique)}")
        return j

    def on_two_regimens(self, tok: Token) -> int:
        self.refuse(f"two regimens in one sig ('{tok.text}'): which one the patient takes must be asked")
        return 1

    def on_wear(self, tok: Token) -> int:
        """"remove after 12 hours", "leave on for 12-14 hours": how long a patch is worn each day."""
        rng = self.number_range(1)
        if rng is None:
            return 1
        _, hi, used = rng
        period = self.peek(1 + used)
        if period is None or period.kind != "period" or not 0 < float(period.value) * hi <= 1:  # type: ignore[arg-type]
            return 1
        self.clause.worn_hours = float(period.value) * hi * 24  # type: ignore[arg-type]
        self.note(f"worn {format_number(self.clause.worn_hours)} h a day")
        return 2 + used

    def on_other_days(self, tok: Token) -> int:
        self.clause.other_days = True
        self.note(f"{tok.text}: the days no other clause names")
        return 1

    def on_prn(self, tok: Token) -> int:
        self.prn = True
        self.note("as needed")
        return 1

    def on_cap(self, tok: Token) -> int:
        j = 1
        if self.kind(j) == "per" or (self.peek(j) and self.peek(j).text in ("of", "daily", "dose")):
            j += 1
        rng = self.number_range(j)
        if rng is None:
            return 1
        _, hi, used = rng
        j += used
        unit, factor = None, 1.0
        tok2 = self.peek(j)
        if tok2 and tok2.kind == "unit":
            unit, factor = tok2.value  # type: ignore[misc]
            j += 1
        elif tok2 and tok2.kind == "x":   # "max 3 times a day"
            unit = "dose"
            j += 1
        words: list[str] = []
        while self.kind(j) == "other" and len(words) < 3:
            words.append(self.peek(j).text)  # type: ignore[union-attr]
            j += 1
        per_days = 1.0
        found = self.per_period(j)
        if found:
            per_days = found[0]
            j += found[1]
        if hi <= 0:
            self.refuse(f"a written maximum of {format_number(hi)} is not a dose")
            return j
        self.cap = Cap(hi * factor, unit, per_days, tuple(words))
        self.note(f"written maximum: {self.cap}")
        return j

    def on_up_to(self, tok: Token) -> int:
        rng = self.number_range(1)
        if rng is None:
            return 1
        _, hi, used = rng
        j = 1 + used
        nxt = self.peek(j)
        if nxt and nxt.kind == "x":   # "up to 4 times a day"
            found = self.per_period(j + 1) or self.period_at(j + 1)
            if found:
                self.set_per_day((1 / found[0], hi / found[0]), f"up to {format_number(hi)} times")
                return j + 1 + found[1]
        unit, factor = "each", 1.0
        if nxt and nxt.kind == "unit":
            unit, factor = nxt.value  # type: ignore[misc]
            j += 1
        found = self.per_period(j)
        if found and found[0] >= 1 and (self.clause.per_day is not None or self.clause.amount is not None
                      or self.kind(j + found[1]) not in ("every", "freq")):
            self.cap = Cap(hi * factor, unit, found[0])
            self.note(f"written maximum: {self.cap}")
            if self.clause.amount is None and self.clause.per_day is None:
                # "up to 6 tablets a day" and nothing else: one to six a day
                lo = min(1.0, hi) if unit in _COUNTED else hi
                self.take_amount(Quantity(lo * factor / found[0], hi * factor / found[0], unit), 0,
                                 f"up to {span(lo, hi, unit)} per day")
                self.clause.daily_total = True
            return j + found[1]
        lo = min(1.0, hi) if unit in _COUNTED else hi
        return self.take_amount(Quantity(lo * factor, hi * factor, unit), j, f"up to {span(lo, hi, unit)}")

    def on_then(self, tok: Token) -> int:
        if not self.clause.empty:
            self.phases.append([])
            self.new_clause()
        self.joined = False
        self.note("then: next phase")
        return 1

    def on_except(self, tok: Token) -> int:
        if self.clause.per_day is not None and self.clause.per_day[1] >= 1:
            self.excepted = self.clause
            self.joined = True
            return 1
        return 0

    def on_and(self, tok: Token) -> int:
        self.joined = True
        self.comma = tok.text == ","
        return 1

    def on_sep(self, tok: Token) -> int:
        self.joined = True
        return 1

    def on_paren(self, tok: Token) -> int:
        return 1

    def on_x(self, tok: Token) -> int:
        if self.kind(1) != "num":
            return 0
        rng = self.number_range(1)
        assert rng is not None
        lo, hi, used = rng
        j = 1 + used
        found = self.per_period(j)
        if found and self.clause.per_day is None and (self.peek(j).kind == "freq" or self.peek(j).kind in ("slash", "per")):
            self.set_per_day((lo / found[0], hi / found[0]), f"x{span(lo, hi)} per {format_number(found[0])} day")
            return j + found[1]
        found = self.period_at(j)
        if found:
            self.set_duration(hi * found[0])
            return j + found[1]
        unit = self.peek(j)
        if unit and unit.kind == "unit" and unit.text in ("dose", "doses"):
            if hi == 1:
                self.clause.once = True
            self.note(f"x {format_number(hi)} dose(s)")
            return j + 1
        if hi == 1 and not self.clause.timed:
            self.clause.once = True
            self.note("x1: one dose")
            return j
        self.set_duration(hi)
        return j

    def set_duration(self, days: float) -> None:
        self.clause.duration = days
        self.note(f"for {format_number(days)} days")

    def on_for(self, tok: Token) -> int:
        rng = self.number_range(1)
        if rng is None:
            if self.kind(1) == "per" and self.kind(2) == "period":
                self.set_duration(float(self.peek(2).value))
                return 3
            return 0
        _, hi, used = rng
        found = self.period_at(1 + used)
        if not found:
            return 0
        amount = self.clause.amount
        if amount is not None and amount.unit == "patch" and hi * found[0] < 1:
            # "apply 1 patch for 12 hours": the hours it is worn, not a course of half a day
            self.clause.worn_hours = hi * found[0] * 24
            self.note(f"worn {format_number(self.clause.worn_hours)} h a day")
            return 1 + used + found[1]
        self.set_duration(hi * found[0])
        return 1 + used + found[1]

    def on_period(self, tok: Token) -> int:
        # "day 1", "days 2-5", "on day 1", "Week 2:": a phase lasting that many days
        length = {"day": 1, "days": 1, "d": 1, "week": 7, "weeks": 7, "wk": 7, "wks": 7}.get(tok.text)
        if length and self.kind(1) == "num":
            rng = self.number_range(1)
            assert rng is not None
            lo, hi, used = rng
            after = self.peek(1 + used)
            open_ended = after is not None and after.kind == "and" and self.peek(2 + used) is not None \
                and self.peek(2 + used).text in ("after", "onward", "onwards", "beyond", "thereafter", "on")
            label = open_ended or (after is not None and after.text == ":") or self.i == 0 \
                or self.kind(-1) == "sep"
            if label and self.clause.amount is not None and (self.clause.timed or self.clause.duration is not None):
                # "Week 1: 1 tab at bedtime. Week 2: 1 tab twice daily": a label opens the next phase
                self.phases.append([])
                self.new_clause()
                self.joined = False
                self.note(f"{tok.text} {span(lo, hi)}: next phase")
            if open_ended:
                return 3 + used
            self.set_duration((hi - lo + 1) * length)
            return 1 + used
        return 0

    def on_sites(self, tok: Token) -> int:
        self.clause.sites = 2
        self.note(f"{tok.text}: two sites")
        return 1

    def on_once(self, tok: Token) -> int:
        if tok.text in ("at onset", "at first sign", "at onset of migraine", "at onset of headache"):
            self.prn = True
        self.clause.once = True
        self.note(f"{tok.text}: one administration")
        return 1

    def on_sliding(self, tok: Token) -> int:
        self.sliding = self.sliding or tok.text
        self.note(f"{tok.text}: variable dose")
        return 1

    def on_as_directed(self, tok: Token) -> int:
        self.as_directed = True
        return 1

    def on_until(self, tok: Token) -> int:
        self.until = True
        self.note(tok.text)
        return 1

    def on_repeat(self, tok: Token) -> int:
        j = 1
        count = 1
        nxt = self.peek(j)
        if nxt and nxt.kind == "freq" and nxt.text in ("once", "twice"):
            count = 1 if nxt.text == "once" else 2
            j += 1
        elif nxt and nxt.kind == "x" and self.kind(j + 1) == "num":
            count = int(float(self.peek(j + 1).value))  # type: ignore[union-attr, arg-type]
            j += 2
        elif nxt and nxt.kind == "num" and self.kind(j + 1) == "x":
            count = int(float(nxt.value))  # type: ignore[arg-type]
            j += 2
        elif nxt and nxt.kind == "every":
            return 1   # "may repeat every 2 hours": the interval matcher reads it
        # "in 2 hours", "after 2 hours", "once in 2 hours": the wait, not a frequency
        while self.kind(j) in ("per", "other", "num", "period", "dose") and j < 6 and not (
                self.kind(j) == "other" and self.peek(j).text not in ("after", "in", "if", "hours", "needed")):
            j += 1
        self.clause.repeats += count
        self.prn = True
        self.note(f"may repeat {count} time(s)")
        return j

    def on_month(self, tok: Token) -> int:
        j = 1
        while self.kind(j) in ("num", "ratio", "and"):
            j += 1
        self.note(f"skipped date {tok.text}")
        return j

    def on_not_dose(self, tok: Token) -> int:
        self.skip_amount = 4
        return 1

    def on_divided(self, tok: Token) -> int:
        self.clause.daily_total = True
        self.note("amount is the total per day")
        return 1

    # --- assembly --------------------------------------------------------------------------------------

    def result(self) -> DoseReading:
        phases = self.assemble()
        trace = tuple(self.trace + ([f"ignored: {' '.join(self.ignored)}"] if self.ignored else []))
        common = dict(text=self.text, prn=self.prn, cap=self.cap, until_gone=self.until, trace=trace)
        if self.rate_problem or self.problem:
            return DoseReading(status=UNREADABLE, reason=self.rate_problem or self.problem, **common)
        most = max((sum(c.per_day[1] for c in p.clauses if c.per_day) for p in phases), default=0.0)
        if most > MAX_PER_DAY:
            return DoseReading(status=UNREADABLE, reason=f"{format_number(most)} administrations a day is not "
                               f"plausible (more than one an hour)", **common)
        if self.sliding:
            return DoseReading(status=VARIABLE, reason=f"dose '{self.sliding}' (a sliding scale, protocol or blood "
                                                        "sugar decides it): the daily amount varies",
                               phases=phases, **common)
        if not phases:
            reason = "'as directed': no amount or frequency written" if self.as_directed else \
                "no amount or frequency found"
            return DoseReading(status=UNREADABLE, reason=reason, **common)
        first = phases[0].clauses
        duration = sum(p.days for p in phases if p.days) or None
        if any(c.amount is None for c in first):
            what = "'as directed'" if self.as_directed else "no amount"
            return DoseReading(status=UNREADABLE, reason=f"{what}: the amount per dose is not written",
                               phases=phases, duration_days=duration, **common)
        if self.minutes:
            return DoseReading(status=UNREADABLE, reason="an interval in minutes is a per-episode dose; the "
                                                          "daily amount is not written", phases=phases, **common)
        if any(c.per_day is None and not c.daily_total for c in first):
            if self.cap is None:
                why = "as needed with no frequency or maximum written" if self.prn else "no frequency written"
                return DoseReading(status=UNREADABLE, reason=why, phases=phases, duration_days=duration, **common)
        status = WEIGHT_BASED if any(c.amount and c.amount.per_kg for p in phases for c in p.clauses) else READ
        return DoseReading(status=status, phases=phases, duration_days=duration, **common)

    def assemble(self) -> tuple[Phase, ...]:
        raw: list[list[_Clause]] = []
        for phase in self.phases:
            clauses = []
            for c in phase:
                if c.empty:
                    continue
                prev = clauses[-1] if clauses else None
                if c.amount is None and c.per_day is None and c.groups and not c.days and not c.duration \
                        and prev is not None and prev.per_day and not prev.groups \
                        and sum(max(n for _, n in g) or 1 for g in c.groups) <= prev.per_day[1]:
                    # "every day for 30 days; take in the morning": the times of the clause before
                    prev.groups.extend(c.groups)
                    self.note("timing joined to the clause before")
                    continue
                clauses.append(c)
            if not clauses:
                continue
            named = {d for c in clauses if not c.other_days for d in c.days}
            for c in clauses:
                if c.other_days:
                    if not named:
                        self.problem = "'other days' with no days named for the other doses"
                    c.days = [d for d in L.WEEK if d not in named]
            timed = [c for c in clauses if c.timed or c.duration is not None]
            untimed = [c for c in clauses if c not in timed and c.amount is not None]
            if timed and untimed:
                # an amount with no timing next to clauses that have it: noise ("replaces her 30mg dose"),
                # unless a timing-only clause lacks its amount
                for c in untimed:
                    bare = next((t for t in timed if t.amount is None), None)
                    if bare is not None:
                        bare.amount = c.amount
                    else:
                        self.note(f"ignored amount {c.amount}: no timing of its own")
                clauses = timed
            if raw and all(c.later for c in clauses):
                for c in clauses:
                    c.once = c.once or c.per_day is None
                raw[-1].extend(clauses)     # a dose hours after the one before: the same day
                continue
            # clauses that each carry a duration are consecutive phases (a taper written with commas)
            if len(clauses) > 1 and all(c.duration is not None for c in clauses[:-1]):
                raw.extend([c] for c in clauses)
            else:
                raw.append(clauses)
        if not raw:
            return ()
        tapered = len(raw) > 1
        out: list[Phase] = []
        previous: _Clause | None = None
        for clauses in raw:
            built = []
            for c in clauses:
                if c.amount is None and previous is not None and previous.amount is not None and len(clauses) == 1:
                    c.amount = previous.amount
                    self.note(f"amount {c.amount} carried from the previous phase")
                per_day = self.per_day(c, tapered, previous)
                built.append(Clause(c.amount, c.alternative, per_day,
                                    tuple(dict.fromkeys(a for g in c.groups for a, _ in g)), tuple(c.days),
                                    c.sites, c.daily_total, c.rate, c.worn_hours))
            days = max((c.duration for c in clauses if c.duration is not None), default=None)
            out.append(Phase(tuple(built), days))
            previous = clauses[-1]
            previous.per_day = built[-1].per_day
        return tuple(out)

    def per_day(self, c: _Clause, tapered: bool, previous: _Clause | None) -> tuple[float, float] | None:
        per_day = c.per_day
        if per_day is None and c.groups:
            n = sum(max(count for _, count in group) or 1 for group in c.groups)
            per_day = (float(n), float(n))
            self.note(f"{n} administration(s) from the times written")
        if c.days:
            share = len(c.days) / 7
            if per_day is None:
                per_day = (share, share)
            elif per_day[1] >= 1 - 1e-9:
                per_day = (per_day[0] * share, per_day[1] * share)
            else:
                per_day = (max(per_day[0], share), max(per_day[1], share))
        if per_day is None and (c.once or c.repeats):
            per_day = (1.0, 1.0)
        if per_day is None and c.worn_hours:
            per_day = (1.0, 1.0)
            self.note("a patch worn part of a day: once a day")
        if c.repeats and per_day is not None:
            per_day = (per_day[0], per_day[1] * (1 + c.repeats))
        if per_day is None and previous is not None and previous.per_day is not None and not c.duration:
            per_day = previous.per_day
            self.note("frequency carried from the previous phase")
        if per_day is None and c.duration is not None and tapered:
            per_day = (1.0, 1.0)
            self.note("once daily assumed for a phase given in days")
        if per_day is None and c.duration is not None and previous is not None and previous.per_day is not None:
            per_day = previous.per_day
        return per_day


#: token kind → the _Reader matcher that reads a phrase starting with it
_MATCHERS = {
    "num": _Reader.on_number, "ratio": _Reader.on_ratio, "unit": _Reader.on_bare_unit, "freq": _Reader.on_frequency,
    "every": _Reader.on_every, "anchor": _Reader.on_anchor, "time": _Reader.on_time, "dow": _Reader.on_days,
    "prn": _Reader.on_prn, "cap": _Reader.on_cap, "upto": _Reader.on_up_to, "then": _Reader.on_then,
    "and": _Reader.on_and, "sep": _Reader.on_sep, "x": _Reader.on_x, "for": _Reader.on_for, "sites": _Reader.on_sites,
    "once": _Reader.on_once, "sliding": _Reader.on_sliding, "asdir": _Reader.on_as_directed,
    "until": _Reader.on_until, "repeat": _Reader.on_repeat, "month": _Reader.on_month,
    "notdose": _Reader.on_not_dose, "divided": _Reader.on_divided, "period": _Reader.on_period,
    "lparen": _Reader.on_paren, "rparen": _Reader.on_paren, "except": _Reader.on_except,
    "otherdays": _Reader.on_other_days, "tworegimens": _Reader.on_two_regimens, "wear": _Reader.on_wear,
}


def read(text: str) -> DoseReading:
    """Read one sig (uncached; use ``read_sig`` in ``mtmrules.knowledge.sig``)."""
    if len(text) > MAX_SIG_CHARS:
        reason = f"sig text of {len(text):,} characters is not read (a sig holds at most {MAX_SIG_CHARS:,})"
        return DoseReading(text=text[:MAX_SIG_CHARS], status=UNREADABLE, reason=reason, trace=(reason,))
    try:
        tokens = tokenize(text)
    except Rejected as exc:
        reason = f"{REJECTED}: {exc}"
        return DoseReading(text=text, status=UNREADABLE, reason=reason, trace=(reason,))
    reader = _Reader(text, tokens)
    reader.read()
    return reader.result()
