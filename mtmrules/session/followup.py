"""Follow-up: what changed between two reports, and when to look again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

#: days until follow-up for an open problem: severity first, then kinds that need a prompt lab check
FOLLOW_UP_DAYS = {"contraindicated": 3, "major": 7, "moderate": 28, "minor": 90}
LAB_FOLLOW_UP_DAYS = 7   # a problem whose intervention orders or monitors a lab


@dataclass
class Comparison:
    resolved: list[dict] = field(default_factory=list)
    persisting: list[dict] = field(default_factory=list)
    new: list[dict] = field(default_factory=list)
    follow_up: str | None = None
    follow_up_reason: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _key(problem: dict) -> tuple:
    """Same problem across reports: same rule and drugs (ids also match when the patient id is the same)."""
    return problem["rule"], tuple(problem.get("medications", []))


def compare(old: dict, new: dict) -> Comparison:
    """Two report dicts (report JSON) → resolved / persisting / new problems and a proposed follow-up date."""
    before = {_key(p): p for p in old.get("problems", [])}
    after = {_key(p): p for p in new.get("problems", [])}
    result = Comparison(
        resolved=[_brief(p) for k, p in before.items() if k not in after],
        persisting=[_brief(p) for k, p in after.items() if k in before],
        new=[_brief(p) for k, p in after.items() if k not in before])
    open_problems = list(after.values())
    if open_problems:
        as_of = date.fromisoformat(str(new["as_of"]))
        best = None
        for problem in open_problems:
            days = FOLLOW_UP_DAYS[problem["severity"]]
            labs = [iv for iv in problem.get("interventions", []) if iv.get("action") in ("monitor", "order-lab")]
            if labs:
                days = min(days, LAB_FOLLOW_UP_DAYS)
            reason = f"{problem['title']} ({problem['severity']})" + (
                f": {labs[0]['text']}" if labs and days == LAB_FOLLOW_UP_DAYS else "")
            if best is None or days < best[0]:
                best = (days, reason)
        result.follow_up = (as_of + timedelta(days=best[0])).isoformat()
        result.follow_up_reason = best[1]
    return result


def _brief(problem: dict) -> dict:
    return {"id": problem["id"], "rule": problem["rule"], "severity": problem["severity"], "title": problem["title"]}


def render_text(comparison: Comparison) -> str:
    out = []
    for name in ("resolved", "persisting", "new"):
        items = getattr(comparison, name)
        out.append(f"{name.capitalize()} ({len(items)})")
        out += [f"  - [{p['severity']}] {p['title']}  ({p['rule']})" for p in items]
    if comparison.follow_up:
        out.append(f"Proposed follow-up: {comparison.follow_up} — {comparison.follow_up_reason}")
    else:
        out.append("No open problems: routine follow-up.")
    return "\n".join(out) + "\n"
