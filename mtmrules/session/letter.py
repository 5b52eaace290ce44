"""Prescriber communication: one SBAR letter (Situation, Background, Assessment, Recommendation) per real
prescriber, holding only the recommendations that prescriber can act on — text, markdown, HTML or a FHIR
CarePlan. A recommendation about an over-the-counter or self-started drug goes to the primary care
prescriber; one that nobody on record can act on is listed "to decide at the review", never sent to "self"."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from mtmrules.knowledge.facts import PatientFacts
from mtmrules.report.fhir import detected_issue
from mtmrules.report.models import InterventionOut, Problem, Reference, Report
from mtmrules.session.decisions import accepted
from mtmrules.session.prescribers import Prescribers
from mtmrules.wording import plural

NAMESPACE = uuid.UUID("2f4b8f1e-0c3d-4a5b-9e6f-7a8b9c0d1e2f")
TO_DECIDE = "To decide at the review"
#: a bibliography entry shared by many table rows says its section is in the row; the letter gives the link
_ROW_NOTE_SUFFIX = "; sections as cited in row notes"


@dataclass
class Recommendation:
    problem: Problem
    interventions: list[InterventionOut] = field(default_factory=list)


@dataclass
class Letter:
    prescriber: str                    # or TO_DECIDE
    recommendations: list[Recommendation] = field(default_factory=list)


def _named(problem: Problem, iv: InterventionOut) -> list[str]:
    return [t.strip() for t in (iv.target or "").split(",") if t.strip() in problem.medications]


def _targets(problem: Problem, iv: InterventionOut) -> list[str]:
    """The drugs an intervention is about: its target; without one, the problem's drugs that no other
    intervention targets ("check the INR" beside "stop ibuprofen" is about warfarin), else all of them."""
    named = _named(problem, iv)
    if named:
        return named
    targeted = {t for other in problem.interventions for t in _named(problem, other)}
    return [m for m in problem.medications if m not in targeted] or list(problem.medications)


def letters(profile, facts: PatientFacts, report: Report, pcp: str | None = None) -> list[Letter]:
    """The letters to write, one per prescriber (by name), then the "to decide at the review" list."""
    prescribers = Prescribers(profile, facts, pcp)
    out: dict[str, Letter] = {}
    for problem in accepted(report):
        for iv in problem.interventions:
            if iv.to != "prescriber":
                continue
            for name in prescribers.for_ingredients(_targets(problem, iv)) or [TO_DECIDE]:
                letter = out.setdefault(name, Letter(name))
                rec = next((r for r in letter.recommendations if r.problem.id == problem.id), None)
                if rec is None:
                    rec = Recommendation(problem)
                    letter.recommendations.append(rec)
                rec.interventions.append(iv)
    return sorted(out.values(), key=lambda l: (l.prescriber == TO_DECIDE, l.prescriber))


def also_sent_to(found: list[Letter]) -> dict[str, list[str]]:
    """Problem id → every letter it is in, so each prescriber knows who else was asked."""
    out: dict[str, list[str]] = {}
    for letter in found:
        for rec in letter.recommendations:
            out.setdefault(rec.problem.id, []).append(letter.prescriber)
    return out


def reference_text(ref: Reference) -> str:
    """A resolved reference: the citation (without the row-notes placeholder) and its address."""
    citation = ref.citation.replace(_ROW_NOTE_SUFFIX, "").rstrip(". ")
    return f"{citation}. {ref.url}" if ref.url else f"{citation}."


def _background(profile, facts: PatientFacts, report: Report) -> str:
    p = report.patient
    who = ", ".join([*([f"{p.age} years"] if p.age is not None else []), *([p.sex] if p.sex != "unknown" else [])])
    conditions = ", ".join(sorted({c.label for c in facts.conditions})) or "none recorded"
    meds = "; ".join(f"{e.label} ({profile.medications[e.index].prescriber or 'prescriber not recorded'})"
                     for e in facts.entries if e.active) or "none"
    renal = "; ".join(v.describe() for _, v in sorted(facts.renal.items(), reverse=True)) or None
    allergies = ", ".join(f"{a.label} ({a.reaction})" if a.reaction else a.label for a in profile.allergies) or \
        ("no known allergies" if profile.no_known_allergies else "allergy status not recorded")
    parts = [f"{who}." if who else "", f"Conditions: {conditions}.", f"Medications: {meds}.", f"Allergies: {allergies}."]
    if renal:
        parts.append(f"Kidney function: {renal}.")
    return " ".join(x for x in parts if x)


def _patient(profile, report: Report) -> str:
    name = profile.name or f"patient {profile.id}"
    return f"{name} (DOB {profile.birth_date.isoformat()})" if profile.birth_date else name


def render(profile, facts: PatientFacts, report: Report, fmt: str = "text", contact=None, pcp: str | None = None) -> str:
    """The letters as text, markdown or HTML."""
    found = letters(profile, facts, report, pcp)
    sender = ", ".join(x for x in (getattr(contact, "pharmacist", None), getattr(contact, "pharmacy", None),
                                   getattr(contact, "phone", None)) if x) or "the reviewing pharmacist"
    if fmt == "html":
        from jinja2 import Environment, PackageLoader, select_autoescape
        env = Environment(loader=PackageLoader("mtmrules.session", "templates"), autoescape=select_autoescape(["html"]))
        return env.get_template("letter.html.j2").render(
            letters=found, to_decide=TO_DECIDE, sender=sender, date=report.as_of.isoformat(),
            patient=_patient(profile, report), background=_background(profile, facts, report),
            reference_text=reference_text, shared=also_sent_to(found))
    md = fmt == "md"
    out: list[str] = []
    shared = also_sent_to(found)
    for letter in found:
        if letter.prescriber == TO_DECIDE:
            out.append(f"{'# ' if md else ''}{TO_DECIDE} (no prescriber on record can act on these)")
        else:
            out.append(f"{'# ' if md else ''}To: {letter.prescriber}")
            out.append(f"From: {sender} · Date: {report.as_of.isoformat()}")
            out.append(f"Re: {_patient(profile, report)}")
        out.append("")
        out.append(f"{'**S**' if md else 'S'} — Situation: I reviewed all of this patient's medicines with them on "
                   f"{report.as_of.isoformat()} (Comprehensive Medication Review). {plural(len(letter.recommendations), 'recommendation')} "
                   f"below {'concerns' if len(letter.recommendations) == 1 else 'concern'} medicines "
                   f"{'you prescribe or that the patient buys without a prescription' if letter.prescriber != TO_DECIDE else 'with no prescriber on record'}.")
        out.append(f"{'**B**' if md else 'B'} — Background: {_background(profile, facts, report)}")
        for i, rec in enumerate(letter.recommendations, 1):
            p = rec.problem
            out.append("")
            out.append(f"{'## ' if md else ''}{i}. {p.title} ({p.severity})")
            out.append(f"{'**A**' if md else 'A'} — Assessment: {p.explanation}")
            out.append(f"{'**R**' if md else 'R'} — Recommendation: " + " ".join(iv.text for iv in rec.interventions))
            others = [n for n in shared[p.id] if n != letter.prescriber]
            if others:
                out.append(f"Also sent to {', '.join(others)} for the parts they prescribe.")
            if p.references:
                out.append("Evidence:")
                out += [f"  {'-' if md else '•'} {reference_text(r)}" for r in p.references]
            out.append("Prescriber response:  [ ] accept   [ ] modify: ________   [ ] decline: ________")
        out.append("")
        out.append("---" if md else "-" * 72)
        out.append("")
    if not found:
        out.append("No recommendations need a prescriber's decision.")
    return "\n".join(out).rstrip() + "\n"


def care_plan_bundle(profile, facts: PatientFacts, report: Report, pcp: str | None = None) -> dict:
    """A FHIR Bundle: one CarePlan (pharmacist medication management plan) citing the DetectedIssues; each
    activity names the prescriber it is addressed to (``performer``)."""
    problems = accepted(report)
    issues = [detected_issue(report, p) for p in problems]
    plan_id = str(uuid.uuid5(NAMESPACE, f"{report.patient.id}|{report.as_of}|{','.join(p.id for p in problems)}"))
    activities = []
    for letter in letters(profile, facts, report, pcp):
        for rec in letter.recommendations:
            for iv in rec.interventions:
                detail = {"status": "not-started", "description": f"{iv.action}: {iv.text}",
                          "reasonReference": [{"reference": f"DetectedIssue/{detected_issue(report, rec.problem)['id']}"}]}
                if letter.prescriber != TO_DECIDE:
                    detail["performer"] = [{"display": letter.prescriber}]
                activities.append({"detail": detail})
    care_plan = {
        "resourceType": "CarePlan", "id": plan_id, "status": "draft", "intent": "plan",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "736378000",
                                  "display": "Medication management plan (record artifact)"}]}],
        "subject": {"reference": f"Patient/{report.patient.id}"}, "created": report.as_of.isoformat(),
        "supportingInfo": [{"reference": f"DetectedIssue/{i['id']}"} for i in issues],
        "activity": activities,
    }
    entries = [{"fullUrl": f"urn:uuid:{plan_id}", "resource": care_plan}]
    entries += [{"fullUrl": f"urn:uuid:{uuid.uuid5(NAMESPACE, i['id'])}", "resource": i} for i in issues]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
