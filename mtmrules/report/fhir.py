"""FHIR R4 output: a Bundle of DetectedIssue resources, one per problem."""

from __future__ import annotations

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


def _patient_reference(report: Report) -> str:
    return f"Patient/{report.patient.id}"


def detected_issue(report: Report, problem: Problem) -> dict:
    """One problem as a FHIR R4 DetectedIssue."""
    code, display = ISSUE_CODE.get(problem.kind, ("ISSUE", "Detected Issue"))
    resource: dict = {
        "resourceType": "DetectedIssue",
        "id": problem.id,
        "status": "preliminary",
        "code": {"coding": [{"system": ACT_CODE, "code": code, "display": display}], "text": problem.title},
        "severity": SEVERITY[problem.severity],
        "patient": {"reference": _patient_reference(report)},
        "identifiedDateTime": report.as_of.isoformat(),
        "detail": problem.explanation,
        "mitigation": [{"action": {"text": f"{iv.action} ({iv.to}): {iv.text}"}} for iv in problem.interventions],
        "extension": [{"url": "https://mtmrules.dev/fhir/StructureDefinition/rule", "valueString": problem.rule}],
    }
    if problem.implicated:
        resource["implicated"] = [{"reference": ref} for ref in problem.implicated]
    if problem.evidence:
        resource["evidence"] = [{"detail": [{"display": text}]} for text in problem.evidence]
    if problem.references:
        resource["reference"] = problem.references[0].url or problem.references[0].citation
    return resource


def detected_issue_bundle(reports: list[Report]) -> dict:
    """A collection Bundle with every problem of every report, in rank order."""
    entries = []
    for report in reports:
        for problem in report.problems:
            resource = detected_issue(report, problem)
            entries.append({"fullUrl": f"urn:uuid:{uuid.uuid5(NAMESPACE, problem.id)}", "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
