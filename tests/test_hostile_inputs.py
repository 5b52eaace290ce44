"""Every hostile or real-world input shape from issue 13, through the CLI (a subprocess: exit code and
stderr) and the API: a clean one-line error or a correct reading, never a traceback, hang or misread."""

import json
import os
import subprocess
import sys
from datetime import date, datetime

import pytest

from mtmrules.adapters.fhir import profiles_from_bundle, profiles_from_resources
from mtmrules.adapters.inputs import read_any
from mtmrules.errors import InputError

from conftest import AS_OF, ROOT

WARFARIN = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "855332",
                        "display": "warfarin sodium 5 MG Oral Tablet"}]}
IBUPROFEN = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197806",
                         "display": "ibuprofen 600 MG Oral Tablet"}]}
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1945-03-02"}


def bundle(*resources):
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def request(rid, concept, **extra):
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": concept, **extra}


def egfr(value_quantity=None, **extra):
    return {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2026-10-01",
            "code": {"coding": [{"system": "http://loinc.org", "code": "33914-3", "display": "eGFR"}]},
            **({"valueQuantity": value_quantity} if value_quantity is not None else {}), **extra}


def cli(*args, timeout=60):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mtmrules.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def check_json(path):
    proc = cli("check", str(path), "--as-of", AS_OF.isoformat(), "--format", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def assert_clean_error(proc, *words):
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and line.startswith("error:"), line
    for word in words:
        assert word in line, line


def report_of(engine, profile):
    return engine.check(profile, as_of=AS_OF)


# --- the file edge --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ('{"id": "p", "medications": ["warfarin 5 mg daily"], "medications": []}', ["duplicate key 'medications'", ":1"]),
    ('{"id": "p", "age": NaN}', ["NaN"]),
    ('{"id": "p", "labs": [{"name": "eGFR", "value": 1e999}]}', ["out of range"]),
    ('{"id": "p", "age": ' + "9" * 100_000 + "}", ["digits"]),
    ("[" * 200_000 + "]" * 200_000, ["nested"]),
])
def test_hostile_json_is_one_line(tmp_path, text, words):
    path = tmp_path / "p.json"
    path.write_text(text)
    assert_clean_error(check_json(path), *words)
    with pytest.raises(InputError):
        list(read_any(path))


@pytest.mark.parametrize("text, words", [
    ("id: p\nlabs: [{name: eGFR, value: .nan, date: 2026-10-01}]\n", ["labs.0.value", ":2"]),
    ("id: p\nweight_kg: .inf\n", ["weight_kg"]),
    ("id: p\nage: true\n", ["age", "true/false"]),
    ("id: p\nmedications: []\nmedications: [warfarin]\n", ["duplicate key", ":3"]),
    ("id: p\nage: " + "9" * 100_000 + "\n", ["digits"]),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", ["nest"]),
])
def test_hostile_yaml_is_one_line(tmp_path, text, words):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    assert_clean_error(check_json(path), *words)


def test_bom_is_read_and_invalid_utf8_is_one_line(tmp_path, engine):
    good = tmp_path / "bom.json"
    good.write_bytes(b"\xef\xbb\xbf" + json.dumps(bundle(PATIENT, request("m1", WARFARIN))).encode())
    proc = check_json(good)
    assert proc.returncode == 0 and json.loads(proc.stdout)["patient"]["id"] == "p1"
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"id: p\nname: \xff\xfe\n")
    assert_clean_error(check_json(bad), "not valid UTF-8", ":2")


def test_devices_and_fifos_are_refused_not_read(tmp_path):
    assert_clean_error(cli("check", "/dev/zero", timeout=20), "regular file")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert_clean_error(cli("check", str(fifo), timeout=20), "regular file")
    bulk = tmp_path / "export"
    bulk.mkdir()
    os.mkfifo(bulk / "Patient.000.ndjson")
    (bulk / "Condition.000.ndjson").write_text(json.dumps(
        {"resourceType": "Condition", "subject": {"reference": "Patient/x"}, "code": {"text": "gout"}}) + "\n")
    proc = cli("screen", str(bulk), "--out", str(tmp_path / "out.csv"), "--as-of", AS_OF.isoformat(), timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    errors = (tmp_path / "out.errors.csv").read_text()
    assert "Patient.000.ndjson" in errors and "regular file" in errors


def test_missing_inputs_exit_2(tmp_path):
    assert_clean_error(cli("check", str(tmp_path / "nope.json")), "not found")
    assert_clean_error(cli("screen", str(tmp_path / "nope"), "--out", str(tmp_path / "o.csv")), "not found")


# --- API edge -------------------------------------------------------------------------------------

def test_as_of_must_be_a_date(engine):
    profile = {"id": "p", "age": 70, "medications": ["warfarin 5 mg daily"]}
    with pytest.raises(InputError, match="as_of: expected a datetime.date or a YYYY-MM-DD string"):
        engine.check(profile, as_of="next tuesday")
    with pytest.raises(InputError, match="got 20261127"):
        engine.check(profile, as_of=20261127)
    assert engine.check(profile, as_of="2026-11-27").as_of == AS_OF
    # a datetime is its calendar date
    assert engine.check(profile, as_of=datetime(2026, 11, 27, 15, 30)).as_of == AS_OF


# --- plausibility ---------------------------------------------------------------------------------

def test_future_birth_date_and_old_age_are_not_ages(engine):
    young = report_of(engine, {"id": "p", "birth_date": "2090-01-01", "medications": ["diazepam 5 mg daily"]})
    assert young.patient.age is None
    assert any("after the as-of date" in u.reason for u in young.unresolved)
    old = report_of(engine, {"id": "p", "birth_date": "1850-01-01", "medications": ["diazepam 5 mg daily"]})
    assert old.patient.age is None and any("not plausible" in u.reason for u in old.unresolved)
    # the age rules are "not evaluated" with the reason, never silently passed
    assert any("age" in n.reason for n in young.not_evaluated)


def test_implausible_and_future_labs_are_reported_not_used(engine):
    base = {"id": "p", "age": 80, "sex": "female", "medications": ["metformin 1000 mg twice daily"]}
    for value, date_ in ((-5, "2026-10-01"), (5000, "2026-10-01"), (25, "2027-06-01")):
        report = report_of(engine, {**base, "labs": [{"name": "eGFR", "value": value, "date": date_}]})
        assert any(u.kind == "lab" for u in report.unresolved), value
        assert not any(p.kind == "renal-dose" for p in report.problems), value
        assert any("eGFR" in n.reason or "kidney" in n.reason for n in report.not_evaluated), value


@pytest.mark.parametrize("dose", ["1e400 mg", "-5 mg", "0 mg", "99999999999 mg"])
def test_implausible_doses_are_not_read(engine, dose):
    report = report_of(engine, {"id": "p", "age": 60, "medications": [{"name": "ibuprofen 400 mg tablet", "dose": dose,
                                                                       "frequency": "three times daily"}]})
    med = report.medications[0]
    assert med.daily_dose is None and "plausible" in (med.note or "") + json.dumps(report.to_dict())
    assert not any(p.kind == "dose-too-high" for p in report.problems)


# --- FHIR tolerance -------------------------------------------------------------------------------

def test_nan_egfr_from_fhir_is_reported_and_renal_rules_not_evaluated(engine):
    profile, = profiles_from_bundle(bundle(PATIENT, request("m1", {"text": "metformin 1000 mg tablet"}),
                                           egfr({"value": "NaN", "unit": "mL/min/1.73m2"})))
    report = report_of(engine, profile)
    assert any("not a finite number" in u.reason for u in report.unresolved)
    assert any("metformin" in n.rule or "egfr" in n.reason.lower() for n in report.not_evaluated)
    json.dumps(report.to_dict(), allow_nan=False)   # raises on a NaN number: the report is valid JSON


def test_second_patient_never_overwrites_the_first(engine):
    boy = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "2020-01-01"}
    profile, = profiles_from_bundle(bundle(PATIENT, boy))
    assert profile.sex == "female" and str(profile.birth_date) == "1945-03-02"
    assert any("second Patient" in i.reason for i in profile.import_issues)


def test_do_not_perform_intent_validity_and_modifier_extensions_are_not_taken(engine):
    profile, = profiles_from_bundle(bundle(
        PATIENT, request("w", WARFARIN),
        request("n1", IBUPROFEN, doNotPerform=True),
        request("n2", IBUPROFEN, intent="proposal"),
        request("n3", IBUPROFEN, dispenseRequest={"validityPeriod": {"start": "2025-01-01", "end": "2025-06-30"}}),
        request("n4", IBUPROFEN, modifierExtension=[{"url": "http://example.org/not-taken", "valueBoolean": True}])))
    report = report_of(engine, profile)
    assert "interactions/ddi-warfarin-nsaid" not in {p.rule for p in report.problems}
    reasons = " | ".join(f"{u.input}: {u.reason}" for u in report.unresolved)
    for word in ("doNotPerform", "intent proposal", "ended 2025-06-30", "modifierExtension"):
        assert word in reasons
    # the control: the same ibuprofen as a plain active order does fire
    plain, = profiles_from_bundle(bundle(PATIENT, request("w", WARFARIN), request("i", IBUPROFEN)))
    assert "interactions/ddi-warfarin-nsaid" in {p.rule for p in report_of(engine, plain).problems}


def test_stu3_shapes_and_type_confusion_never_crash(engine):
    stu3 = [PATIENT,
            {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"},
             "verificationStatus": "confirmed", "clinicalStatus": "active",
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005",
                                  "display": "Allergy to penicillin (finding)"}]}},
            {"resourceType": "Condition", "id": "c1", "subject": "Patient/p1", "clinicalStatus": "active",
             "verificationStatus": "confirmed", "code": {"text": "atrial fibrillation"}},
            request("m1", WARFARIN, dosageInstruction={"timing": "daily", "doseQuantity": [1]}),
            request("m2", "warfarin", dosageInstruction=[{"doseAndRate": {"doseQuantity": {"value": "x"}}}]),
            request("m3", {"coding": "rxnorm"}, subject=["Patient/p1"]),
            {"resourceType": "Observation", "id": "o", "status": ["final"], "subject": {"reference": "Patient/p1"}},
            {"resourceType": "MedicationDispense", "id": "d", "subject": {"reference": "Patient/p1"},
             "daysSupply": "thirty", "medicationCodeableConcept": WARFARIN},
            "not a resource", ["nor", "this"], {"resourceType": 7}]
    profile, = profiles_from_resources(stu3)
    assert profile.allergies and profile.allergies[0].substance == "Allergy to penicillin"
    assert profile.conditions and profile.conditions[0].name == "atrial fibrillation"
    report = report_of(engine, profile)
    assert any("penicillin" in a.lower() for a in [profile.allergies[0].label])
    assert any("not a FHIR resource" in u.input for u in report.unresolved)


def test_references_fullurls_and_urn_uuid_medications(engine):
    resources = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:pat-1", "resource": {k: v for k, v in PATIENT.items() if k != "id"}},
        {"fullUrl": "urn:uuid:med-1", "resource": {"resourceType": "Medication", "code": WARFARIN}},
        {"fullUrl": "urn:uuid:rx-1", "resource": {"resourceType": "MedicationRequest", "status": "active",
                                                  "intent": "order", "subject": {"reference": "urn:uuid:pat-1"},
                                                  "medicationReference": {"reference": "urn:uuid:med-1"}}},
        {"resource": request("rx-2", IBUPROFEN, subject={
            "reference": "http://ehr.example/fhir/Patient/pat-1/_history/3"})},
    ]}
    profile, = profiles_from_bundle(resources)
    assert profile.sex == "female" and len(profile.medications) == 2
    report = report_of(engine, profile)
    assert "interactions/ddi-warfarin-nsaid" in {p.rule for p in report.problems}


def test_folder_of_single_resources_is_one_report_per_patient(tmp_path):
    folder = tmp_path / "patient"
    folder.mkdir()
    for i, resource in enumerate([PATIENT, request("w", WARFARIN), request("i", IBUPROFEN)]):
        (folder / f"{i}.json").write_text(json.dumps(resource))
    proc = check_json(folder)
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert len(reports) == 1 and reports[0]["patient"]["id"] == "p1"   # one patient, not one per file
    report = reports[0]
    assert "interactions/ddi-warfarin-nsaid" in {p["rule"] for p in report["problems"]}


def test_no_known_allergy_codes(engine):
    nka = {"resourceType": "AllergyIntolerance", "id": "nka", "patient": {"reference": "Patient/p1"},
           "code": {"coding": [{"system": "http://snomed.info/sct", "code": "716186003", "display": "No known allergy"}]}}
    profile, = profiles_from_bundle(bundle(PATIENT, nka))
    assert profile.allergies == [] and profile.no_known_allergies
    food = {**nka, "code": {"coding": [{"system": "http://snomed.info/sct", "code": "429625007"}]}}
    profile, = profiles_from_bundle(bundle(PATIENT, food))
    assert profile.allergies == [] and not profile.no_known_allergies
    assert any("food" in i.reason for i in profile.import_issues)


LT30, LT45 = "renal/renal-avoid/metformin-egfr-lt-30", "renal/renal-caution/metformin-egfr-lt-45"


@pytest.mark.parametrize("quantity, text, fired, pending", [
    ({"value": 60, "comparator": ">", "unit": "mL/min/1.73m2"}, None, set(), set()),
    (None, ">60", set(), set()),
    ({"value": 40, "unit": "mL/min/1.73m2"}, None, {LT45}, set()),
    ({"value": 45, "comparator": "<", "unit": "mL/min/1.73m2"}, None, {LT45}, {LT30}),
    ({"value": 30, "comparator": "<", "unit": "mL/min/1.73m2"}, None, {LT30}, set()),
    ({"value": 30, "comparator": ">=", "unit": "mL/min/1.73m2"}, None, set(), {LT45}),
])
def test_egfr_comparator_is_a_bound(engine, quantity, text, fired, pending):
    """Metformin: contraindicated below eGFR 30, caution below 45. '>60' is above both (silent); '<45' is
    below 45 (fires) but may or may not be below 30 (not evaluated, the bound as the reason); '>=30' may
    or may not be below 45; a bound is never read as an exact value."""
    obs = egfr(quantity, **({"valueString": text} if text else {}))
    profile, = profiles_from_bundle(bundle(PATIENT, request("m", {"text": "metformin 500 mg tablet"},
                                                                 dosageInstruction=[{"text": "1 tab bid"}]), obs))
    for executor in ("fast", "naive", "columnar"):
        report = engine.check(profile, as_of=AS_OF, executor=executor)
        got = {p.rule for p in report.problems} & {LT30, LT45}
        waiting = {n.rule for n in report.not_evaluated} & {LT30, LT45}
        assert (got, waiting) == (fired, pending), executor
        assert all("bound" in n.reason for n in report.not_evaluated if n.rule in pending)


def test_ucum_dose_units(engine):
    insulin = request("ins", {"text": "insulin glargine 100 unit/mL injection"},
                      dosageInstruction=[{"doseAndRate": [{"doseQuantity": {"value": 20, "system": "http://unitsofmeasure.org",
                                                                             "code": "[iU]"}}],
                                          "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}])
    tabs = request("tab", {"text": "ibuprofen 400 mg tablet"},
                   dosageInstruction=[{"doseAndRate": [{"doseQuantity": {"value": 2, "code": "{tbl}"}}],
                                       "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}}}])
    profile, = profiles_from_bundle(bundle(PATIENT, insulin, tabs))
    assert [m.dose for m in profile.medications] == ["20 unit", "2 tablet"]
    report = report_of(engine, profile)
    assert report.medications[1].daily_dose.value == 2400


def test_wrongly_typed_medication_fields_are_read_or_reported(engine):
    """(Formerly a 400 from the CDS Hooks service because the adapter raised.) A bare string as the
    medication concept is its text; a string as the dosage is reported, and the dose is unknown."""
    med = request("m", "warfarin 5 mg tablet", dosageInstruction="daily")
    profile, = profiles_from_bundle(bundle(PATIENT, med))
    assert profile.medications[0].name == "warfarin 5 mg tablet" and profile.medications[0].dose is None
    assert any("not a FHIR Dosage" in i.reason for i in profile.import_issues)
