"""Prescriber communication: the problems that need a prescriber's decision, grouped by prescriber, as
short SBAR notes (Situation, Background, Assessment, Recommendation) — text, markdown or FHIR."""

from __future__ import annotations

import uuid
from collections import defaultdict

from mtmrules.knowledge.facts import PatientFacts
from mtmrules.report.fhir import detected_issue
from mtmrules.report.models import Problem, Report
from mtmrules.session.decisions import accepted
from mtmrules.wording import plural

UNKNOWN_PRESCRIBER = "Prescriber not recorded"
NAMESPACE = uuid.UUID("2f4b8f1e-0c3d-4a5b-9e6f-7a8b9c0d1e2f")


def by_prescriber(profile, facts: PatientFacts, report: Report) -> dict[str, list[Problem]]:
    """Problems with an intervention for the prescriber, under each prescriber of an implicated drug."""
    prescribers: dict[str, set[str]] = defaultdict(set)   # ingredient → prescribers
    for item in facts.items:
        prescribers[item.ingredient].add(profile.medications[item.med].prescriber or UNKNOWN_PRESCRIBER)
    groups: dict[str, list[Problem]] = defaultdict(list)
    for problem in accepted(report):
        if not any(iv.to == "prescriber" for iv in problem.interventions):
            continue
        names = sorted(set().union(*(prescribers.get(m, set()) for m in problem.medications))) if problem.medications else []
        for name in names or [UNKNOWN_PRESCRIBER]:
            groups[name].append(problem)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] == UNKNOWN_PRESCRIBER, kv[0])))


def _patient_line(report: Report) -> str:
    p = report.patient
    parts = [f"patient {p.id}"] + ([f"{p.age} years"] if p.age is not None else []) + ([p.sex] if p.sex != "unknown" else [])
    if p.egfr is not None:
        parts.append(f"eGFR {p.egfr:g}")
    return ", ".join(parts)


def render(profile, facts: PatientFacts, report: Report, fmt: str = "text", pharmacist: str | None = None) -> str:
    groups = by_prescriber(profile, facts, report)
    md = fmt == "md"
    out = []
    active = [e.label for e in facts.entries if e.active]
    conditions = sorted({c.label for c in facts.conditions})
    for prescriber, problems in groups.items():
        out.append(f"{'# ' if md else ''}To: {prescriber}")
        out.append(f"From: {pharmacist or 'the reviewing pharmacist'} · Date: {report.as_of.isoformat()}")
        out.append("")
        out.append(f"{'**S**' if md else 'S'} — Situation: Comprehensive medication review for {_patient_line(report)}. "
                   f"{plural(len(problems), 'recommendation')} {'needs' if len(problems) == 1 else 'need'} your decision.")
        out.append(f"{'**B**' if md else 'B'} — Background: conditions: {', '.join(conditions) or 'none recorded'}; "
                   f"active medications: {', '.join(active) or 'none'}.")
        for i, problem in enumerate(problems, 1):
            out.append("")
            out.append(f"{'## ' if md else ''}{i}. {problem.title} ({problem.severity})")
            out.append(f"{'**A**' if md else 'A'} — Assessment: {problem.explanation}")
            recs = [iv.text for iv in problem.interventions if iv.to == "prescriber"]
            out.append(f"{'**R**' if md else 'R'} — Recommendation: " + " ".join(recs))
            if problem.references:
                out.append("References: " + "; ".join(r.citation for r in problem.references))
            out.append("Prescriber response:  [ ] accept   [ ] modify: ________   [ ] decline: ________")
        out.append("")
        out.append("-" * 72 if not md else "---")
        out.append("")
    if not groups:
        out.append("No recommendations need a prescriber's decision.")
    return "\n".join(out).rstrip() + "\n"


def care_plan_bundle(profile, facts: PatientFacts, report: Report) -> dict:
    """A FHIR Bundle: one CarePlan (pharmacist medication management plan) citing the DetectedIssues."""
    problems = accepted(report)
    issues = [detected_issue(report, p) for p in problems]
    plan_id = str(uuid.uuid5(NAMESPACE, f"{report.patient.id}|{report.as_of}|{','.join(p.id for p in problems)}"))
    care_plan = {
        "resourceType": "CarePlan", "id": plan_id, "status": "draft", "intent": "plan",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "736378000",
                                  "display": "Medication management plan (record artifact)"}]}],
        "subject": {"reference": f"Patient/{report.patient.id}"}, "created": report.as_of.isoformat(),
        "supportingInfo": [{"reference": f"DetectedIssue/{i['id']}"} for i in issues],
        "activity": [{"detail": {"status": "not-started", "description": f"{iv.action}: {iv.text}"}}
                     for p in problems for iv in p.interventions if iv.to == "prescriber"],
    }
    entries = [{"fullUrl": f"urn:uuid:{plan_id}", "resource": care_plan}]
    entries += [{"fullUrl": f"urn:uuid:{uuid.uuid5(NAMESPACE, i['id'])}", "resource": i} for i in issues]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
