"""FHIR R4 import (Bundles, resource lists, Bulk NDJSON) and DetectedIssue output."""

import json
import subprocess
import sys

import pytest

from mtmrules.adapters import fhir
from mtmrules.errors import InputError
from mtmrules.report.fhir import detected_issue_bundle

from conftest import AS_OF, ROOT, SHARED

SYNTHEA = sorted((SHARED / "fixtures" / "synthea-r4").glob("*.json"))
BULK = SHARED / "fixtures" / "bulk-fhir-10"


def rxnorm(code, display):
    return {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": display}]}


def bundle(*resources, kind="collection"):
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1948-03-02"}


def test_all_synthea_bundles_import_and_screen(engine):
    assert len(SYNTHEA) == 40
    screened = 0
    for path in SYNTHEA:
        profile = fhir.profile_from_bundle(json.loads(path.read_text()), str(path))
        report = engine.check(profile, as_of=AS_OF)
        assert report.patient.id == profile.id
        active = [m for m in report.medications if m.active]
        assert all(m.status != "unresolved" for m in active), [m.input for m in active if m.status == "unresolved"]
        screened += bool(active)
    assert screened >= 20


def test_bulk_export_streams_one_profile_per_patient(engine):
    from mtmrules.adapters.bulk import read_bulk
    profiles = list(read_bulk(BULK))
    patient_ids = [json.loads(line)["id"] for line in (BULK / "Patient.000.ndjson").read_text().splitlines() if line]
    assert [p.id for p in profiles][:len(patient_ids)] == patient_ids
    for profile in profiles:
        engine.check(profile, as_of=AS_OF)
    allergies = {a.substance for p in profiles for a in p.allergies}
    assert "Aspirin" in allergies


def test_dosage_shapes_and_status_filtering(engine):
    resources = [
        PATIENT,
        {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": rxnorm("855332", "Warfarin Sodium 5 MG Oral Tablet"),
         "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                "doseAndRate": [{"doseQuantity": {"value": 1}}]}]},
        # STU3 shape used by the CDS Hooks examples: doseQuantity directly on the dosage
        {"resourceType": "MedicationRequest", "id": "mr2", "status": "active", "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": {"text": "ibuprofen 400 mg tablet"},
         "dosageInstruction": [{"timing": {"code": {"coding": [{"code": "TID"}]}}, "doseQuantity": {"value": 400, "unit": "mg"}}]},
        {"resourceType": "MedicationStatement", "id": "ms1", "status": "completed", "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": {"text": "naproxen 500 mg"}},
        {"resourceType": "MedicationRequest", "id": "mr3", "status": "entered-in-error", "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": {"text": "digoxin 0.25 mg"}},
        {"resourceType": "MedicationRequest", "id": "mr4", "status": "active", "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": {"text": "oxycodone 5 mg tablet"},
         "dosageInstruction": [{"text": "1 tab every 6 hours as needed", "asNeededBoolean": True}]},
    ]
    profile = fhir.profile_from_bundle(bundle(*resources))
    report = engine.check(profile, as_of=AS_OF)
    meds = {m.input: m for m in report.medications}
    assert meds["Warfarin Sodium 5 MG Oral Tablet"].daily_dose.value == 5
    assert meds["ibuprofen 400 mg tablet"].daily_dose.value == 1200
    assert meds["naproxen 500 mg"].active is False
    assert "digoxin 0.25 mg" not in meds
    assert meds["oxycodone 5 mg tablet"].daily_dose.value == 20
    problem = next(p for p in report.problems if p.rule == "interactions/ddi-warfarin-nsaid")
    assert problem.implicated == ["MedicationRequest/mr1", "MedicationRequest/mr2"]
    assert any(u.input == "MedicationRequest/mr3" and "entered in error" in u.reason for u in report.unresolved)


def test_medication_reference_conditions_allergies_observations(engine):
    resources = [
        PATIENT,
        {"resourceType": "Medication", "id": "med1", "code": rxnorm("308192", "Amoxicillin 500 MG Oral Tablet")},
        {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "subject": {"reference": "Patient/p1"},
         "medicationReference": {"reference": "Medication/med1"}},
        {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"},
         "clinicalStatus": {"coding": [{"code": "active"}]}, "criticality": "high", "type": "allergy",
         "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7984", "display": "penicillin V"}]},
         "reaction": [{"manifestation": [{"text": "anaphylaxis"}], "severity": "severe"}]},
        {"resourceType": "AllergyIntolerance", "id": "a2", "patient": {"reference": "Patient/p1"},
         "clinicalStatus": {"coding": [{"code": "active"}]}, "verificationStatus": {"coding": [{"code": "refuted"}]},
         "code": {"text": "sulfa"}},
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
         "clinicalStatus": {"coding": [{"code": "active"}]},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "88805009", "display": "Chronic congestive heart failure"}]}},
        {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
         "clinicalStatus": {"coding": [{"code": "resolved"}]}, "code": {"text": "atrial fibrillation"}},
        {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
         "code": {"coding": [{"system": "http://loinc.org", "code": "14682-9"}], "text": "creatinine"},
         "effectiveDateTime": "2026-11-01T10:00:00Z", "valueQuantity": {"value": 221, "unit": "umol/L"}},
        {"resourceType": "Observation", "id": "o2", "status": "final", "subject": {"reference": "Patient/p1"},
         "code": {"coding": [{"system": "http://loinc.org", "code": "55284-4"}]}, "effectiveDateTime": "2026-11-01",
         "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 150, "unit": "mm[Hg]"}},
                       {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 85, "unit": "mm[Hg]"}}]},
        {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p1"}},
    ]
    profile = fhir.profile_from_bundle(bundle(*resources, kind="searchset"))
    assert profile.medications[0].code.code == "308192"
    assert [a.substance for a in profile.allergies] == ["penicillin V"]
    assert profile.allergies[0].severity == "severe"
    assert [c.status for c in profile.conditions] == ["active", "resolved"]
    assert {lab.loinc for lab in profile.labs} == {"14682-9", "8480-6", "8462-4"}
    report = engine.check(profile, as_of=AS_OF)
    assert report.patient.egfr is not None and report.patient.egfr < 30          # 221 µmol/L → 2.5 mg/dL
    allergy = next(p for p in report.problems if p.kind == "drug-allergy")
    assert allergy.severity == "contraindicated" and "AllergyIntolerance/a1" in allergy.implicated
    assert any(u.input == "Encounter ×1" for u in report.unresolved)
    assert any("refuted" in u.reason for u in report.unresolved)


def test_malformed_input_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bundle.json"
    bad.write_text(json.dumps({"resourceType": "Bundle", "entry": [{"fullUrl": "x"}]}))
    proc = subprocess.run([sys.executable, "-m", "mtmrules.cli", "check", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Bundle.entry[0].resource" in proc.stderr and proc.stderr.count("\n") == 1
    with pytest.raises(InputError):
        fhir.profile_from_bundle({"resourceType": "Patient"})


def test_detected_issue_bundle(engine):
    path = ROOT / "examples" / "mrs-jones.yaml"
    from mtmrules.adapters.inputs import read_any
    report = engine.check(next(read_any(path)), as_of=AS_OF)
    out = detected_issue_bundle([report])
    assert out["resourceType"] == "Bundle" and len(out["entry"]) == len(report.problems)
    issue = out["entry"][0]["resource"]
    assert issue["resourceType"] == "DetectedIssue" and issue["severity"] in ("high", "moderate", "low")
    assert issue["code"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    assert issue["patient"] == {"reference": "Patient/example-mrs-jones"} and issue["mitigation"]
    codes = {e["resource"]["code"]["coding"][0]["code"] for e in out["entry"]}
    assert {"DRG", "DOSEH"} <= codes


def test_cli_reads_bulk_folder_and_fhir_format():
    proc = subprocess.run([sys.executable, "-m", "mtmrules.cli", "check", str(BULK), "--format", "json",
                           "--as-of", "2026-11-27"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(proc.stdout)
    assert isinstance(reports, list) and len(reports) >= 10


def test_large_bulk_export_is_indexed_in_buckets_with_the_same_groups():
    """Spilling the index to per-bucket files (here: buckets of ~4 KB of NDJSON) changes the patient
    order across buckets only; every patient still gets exactly its own resources."""
    from mtmrules.adapters.bulk import bulk_groups

    def groups(**kwargs):
        return [(pid, sorted(json.dumps(r, sort_keys=True) for r in resources))
                for pid, resources in bulk_groups(BULK, **kwargs)]

    whole, bucketed = groups(), groups(bucket_bytes=4096)
    assert len(bucketed) == len(whole) > 1
    assert sorted(bucketed) == sorted(whole)
    assert bucketed == groups(bucket_bytes=4096)            # deterministic
