"""FHIR R4 output: a Bundle of DetectedIssue resources, one per problem.

``DetectedIssue.mitigation`` records actions *taken*; mtmrules only proposes, so its suggested
interventions go in ``detail`` (readable) and in a ``proposed-intervention`` extension (structured),
and a pharmacist's plan is a linked CarePlan (:mod:`mtmrules.session.letter`). Every resource has a
generated narrative, and references between resources of one Bundle use the Bundle's ``urn:uuid``
full URLs so that they resolve inside it.
"""

from __future__ import annotations

import html
import uuid

from mtmrules.report.models import Problem, Report

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: problem kind → v3 ActCode DetectedIssue category (code, display)
ISSUE_CODE = {
    "drug-allergy": ("ALGY", "Allergy Alert"),
    "drug-drug-interaction": ("DRG", "Drug Interaction Alert"),
    "duplicate-therapy": ("DUPTHPY", "Duplicate Therapy Alert"),
    "dose-too-high": ("DOSEH", "High Dose Alert"),
    "dose-too-low": ("DOSEL", "Low Dose Alert"),
    "renal-dose": ("DOSECOND", "Dose-Condition Alert"),
    "drug-disease": ("COND", "Condition Alert"),
    "age-inappropriate": ("AGE", "Age Alert"),
    "monitoring-gap": ("OBSA", "Observation Alert"),
    "ineffective-therapy": ("OBSA", "Observation Alert"),
    "nonadherence": ("COMPLY", "Compliance Alert"),
    "untreated-condition": ("COND", "Condition Alert"),
    "no-indication": ("DACT", "Drug Action Detected Issue"),
}
SEVERITY = {"contraindicated": "high", "major": "high", "moderate": "moderate", "minor": "low"}
NAMESPACE = uuid.UUID("6f1d4a52-8b4e-4f0f-9a57-2d1f6b0c3e11")


RULE_EXTENSION = "https://mtmrules.dev/fhir/StructureDefinition/rule"
PROPOSED_EXTENSION = "https://mtmrules.dev/fhir/StructureDefinition/proposed-intervention"


def _patient_reference(report: Report) -> str:
    return f"Patient/{report.patient.id}"


def narrative(*paragraphs: str) -> dict:
    """A generated FHIR narrative (XHTML ``div``) of the given plain-text paragraphs."""
    body = "".join(f"<p>{html.escape(text, quote=False)}</p>" for text in paragraphs if text)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body or "<p/>"}</div>'}


def full_url(problem_id: str) -> str:
    """The Bundle fullUrl of a problem's DetectedIssue (stable: same problem, same URL)."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, problem_id)}"


def detected_issue(report: Report, problem: Problem) -> dict:
    """One problem as a FHIR R4 DetectedIssue; its proposed interventions are not mitigations."""
    code, display = ISSUE_CODE.get(problem.kind, ("ISSUE", "Detected Issue"))
    proposals = [f"{iv.action} ({iv.to}): {iv.text}" for iv in problem.interventions]
    detail = problem.explanation + (" Suggested: " + " ".join(proposals) if proposals else "")
    resource: dict = {
        "resourceType": "DetectedIssue",
        "id": problem.id,
        "text": narrative(f"{problem.title} ({problem.severity})", problem.explanation,
                          *(f"Suggested: {text}" for text in proposals)),
        "extension": [{"url": RULE_EXTENSION, "valueString": problem.rule},
                      *({"url": PROPOSED_EXTENSION, "valueString": text} for text in proposals)],
        "status": "preliminary",
        "code": {"coding": [{"system": ACT_CODE, "code": code, "display": display}], "text": problem.title},
        "severity": SEVERITY[problem.severity],
        "patient": {"reference": _patient_reference(report)},
        "identifiedDateTime": report.as_of.isoformat(),
        "detail": detail,
    }
    if problem.implicated:
        resource["implicated"] = [{"reference": ref} for ref in problem.implicated]
    if problem.evidence:
        resource["evidence"] = [{"detail": [{"display": text}]} for text in problem.evidence]
    url = next((r.url for r in problem.references if r.url), None)
    if url:
        resource["reference"] = url
    return resource


def detected_issue_bundle(reports: list[Report]) -> dict:
    """A collection Bundle with every problem of every report, in rank order."""
    entries = []
    for report in reports:
        for problem in report.problems:
            resource = detected_issue(report, problem)
            entries.append({"fullUrl": full_url(problem.id), "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
