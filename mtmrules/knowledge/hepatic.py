"""Child-Pugh score of liver function from bilirubin, albumin, INR, ascites and encephalopathy.

Points per part (Pugh et al. 1973, as used by FDA hepatic-impairment labeling): total bilirubin
< 2 / 2-3 / > 3 mg/dL; albumin > 3.5 / 2.8-3.5 / < 2.8 g/dL; INR < 1.7 / 1.7-2.3 / > 2.3;
ascites and hepatic encephalopathy absent / mild or controlled / moderate-severe = 1 / 2 / 3.
Class A is 5-6 points, B 7-9, C 10-15.

A problem list says whether ascites or encephalopathy was ever recorded, not how severe it is:
a recorded one scores 2 points (the least it can score), an unrecorded one 1 — so the computed
score is a lower bound, and the description says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from mtmrules.knowledge.dose import format_number


@dataclass(frozen=True)
class ChildPugh:
    """A computed score (None when a lab part is missing) with how each part scored or why it is missing."""

    score: int | None
    parts: tuple[str, ...]        # "bilirubin 2.4 mg/dL → 2", "ascites recorded → 2 (severity unknown)"
    missing: tuple[str, ...]      # "albumin", "INR (on warfarin: not a liver measure)"

    @property
    def child_class(self) -> str | None:
        if self.score is None:
            return None
        return "A" if self.score <= 6 else "B" if self.score <= 9 else "C"

    def describe(self) -> str:
        return (f"Child-Pugh score (class {self.child_class}; computed, a lower bound: "
                + "; ".join(self.parts) + ") =")


def _points(value: float, low: float, high: float, rising: bool) -> int:
    """1/2/3 points: for a part that worsens as it rises (bilirubin, INR) below ``low`` is 1 and above
    ``high`` is 3; for albumin (worse as it falls) above ``high`` is 1 and below ``low`` is 3."""
    if rising:
        return 1 if value < low else 3 if value > high else 2
    return 1 if value > high else 3 if value < low else 2


def child_pugh(bilirubin: float | None, albumin: float | None, inr: float | None,
               ascites: bool, encephalopathy: bool, inr_unusable: str | None = None) -> ChildPugh:
    """Score from bilirubin (mg/dL), albumin (g/dL), INR and whether ascites / hepatic encephalopathy
    are recorded. ``inr_unusable`` gives the reason an INR on record does not measure the liver
    (a vitamin K antagonist); the INR part is then missing."""
    parts: list[str] = []
    missing: list[str] = []
    total = 0
    for name, value, unit, low, high, rising in (("bilirubin", bilirubin, " mg/dL", 2, 3, True),
                                                 ("albumin", albumin, " g/dL", 2.8, 3.5, False),
                                                 ("INR", inr, "", 1.7, 2.3, True)):
        if name == "INR" and value is not None and inr_unusable:
            missing.append(f"INR ({inr_unusable})")
            continue
        if value is None:
            missing.append(name)
            continue
        points = _points(value, low, high, rising)
        total += points
        parts.append(f"{name} {format_number(value)}{unit} → {points}")
    for name, recorded in (("ascites", ascites), ("hepatic encephalopathy", encephalopathy)):
        total += 2 if recorded else 1
        parts.append(f"{name} recorded → 2 (severity not recorded)" if recorded else f"no {name} recorded → 1")
    return ChildPugh(None if missing else total, tuple(parts), tuple(missing))
