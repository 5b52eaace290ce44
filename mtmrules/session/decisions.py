"""Pharmacist decisions recorded in a small session file, and how reports honour them.

```yaml
pharmacist: "J. Smith, PharmD"
date: 2026-11-27
decisions:
  1400d212357d278f: {status: accepted}
  5b2c0e1d9a7f3c11: {status: rejected, reason: "topical NSAID only; patient confirmed"}
  9e8d7c6b5a4f3e21: {status: deferred, note: "recheck after cardiology visit"}
added_problems:
  - {title: "Difficulty opening bottles", kind: nonadherence, severity: minor,
     explanation: "Arthritis in both hands.", patient_text: "Ask for easy-open caps.",
     interventions: [{action: educate, to: patient, text: "Request non-child-proof caps."}]}
```
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mtmrules.engine.pack import Category, DEFAULT_CATEGORY, Intervention, Kind, Severity
from mtmrules.report.models import InterventionOut, Problem, Report
from mtmrules.yamlsource import load_file


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["accepted", "rejected", "deferred"]
    reason: str | None = None
    note: str | None = None


class AddedProblem(BaseModel):
    """A problem the pharmacist found that no rule found."""

    model_config = ConfigDict(extra="forbid")
    title: str
    kind: Kind
    category: Category | None = None
    severity: Severity
    explanation: str
    patient_text: str
    medications: list[str] = Field(default_factory=list)
    interventions: list[Intervention] = Field(min_length=1)


class Session(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pharmacist: str | None = None
    date: dt.date | None = None
    decisions: dict[str, Decision] = Field(default_factory=dict)
    added_problems: list[AddedProblem] = Field(default_factory=list)


def read_session(path: str | Path) -> Session:
    doc = load_file(path)
    try:
        return Session.model_validate(doc.data or {})
    except ValidationError as exc:
        raise doc.validation_error(exc) from None


def apply_decisions(report: Report, session: Session | None) -> Report:
    """Drop rejected problems, mark the others, and append the pharmacist's own problems."""
    if session is None:
        return report
    kept = []
    for problem in report.problems:
        decision = session.decisions.get(problem.id)
        if decision and decision.status == "rejected":
            continue
        problem.decision = decision.status if decision else "proposed"
        problem.decision_note = decision.reason or decision.note if decision else None
        kept.append(problem)
    for i, added in enumerate(session.added_problems, 1):
        digest = hashlib.sha256(f"{report.patient.id}|pharmacist|{added.title}".encode()).hexdigest()[:16]
        kept.append(Problem(
            id=digest, rank=0, score=0.0, rule=f"pharmacist/added-{i}", kind=added.kind,
            category=added.category or DEFAULT_CATEGORY[added.kind], severity=added.severity, title=added.title,
            explanation=added.explanation, evidence=[], medications=added.medications, conditions=[],
            interventions=[InterventionOut(**iv.model_dump(exclude_none=True)) for iv in added.interventions],
            patient_text=added.patient_text, references=[], decision="accepted"))
    for rank, problem in enumerate(kept, 1):
        problem.rank = rank
    report.problems = kept
    return report


def accepted(report: Report) -> list[Problem]:
    """Problems to act on: accepted ones, or every problem when no decisions were recorded."""
    if any(p.decision not in (None, "proposed") for p in report.problems):
        return [p for p in report.problems if p.decision == "accepted"]
    return list(report.problems)
