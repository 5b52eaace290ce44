"""Hypothesis fuzzing of every input adapter with JSON-shaped garbage and mutated real records: the
only outcomes are a profile (then a report that is valid JSON) or an InputError — never a traceback."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtmrules.adapters.cdshooks import draft_orders, prefetch_resources
from mtmrules.adapters.fhir import load_fhir_json, profiles_from_resources
from mtmrules.adapters.native import profile_from_data
from mtmrules.errors import InputError
from mtmrules.yamlsource import load_text, parse_json

from conftest import AS_OF

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["NaN", "Infinity", ">60", "<0.5", "2026-10-01", "1948", "Patient/p1",
                                     "urn:uuid:p1", "active", "confirmed", "final", "[iU]", "{tbl}", ""]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)

TYPES = ["Patient", "MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense",
         "Medication", "Condition", "AllergyIntolerance", "Observation", "Bundle", "Encounter"]
FIELDS = ["id", "subject", "patient", "status", "intent", "doNotPerform", "medicationCodeableConcept",
          "medicationReference", "dosageInstruction", "dosage", "dispenseRequest", "modifierExtension", "code",
          "clinicalStatus", "verificationStatus", "valueQuantity", "valueString", "component", "effectiveDateTime",
          "birthDate", "gender", "deceasedBoolean", "deceasedDateTime", "reaction", "criticality", "type",
          "daysSupply", "whenHandedOver", "contained", "entry", "effectivePeriod", "authoredOn", "abatementDateTime"]
resources = st.builds(lambda rtype, fields: {"resourceType": rtype, **fields}, st.sampled_from(TYPES),
                      st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8))
subjects = st.sampled_from([{"reference": "Patient/p1"}, "Patient/p1", {"display": "x"}, None])


def _report_is_clean(engine, profiles):
    for profile in profiles:
        report = engine.check(profile, as_of=AS_OF)
        json.dumps(report.to_dict(), allow_nan=False)   # never NaN or Infinity in the output


@SETTINGS
@given(items=st.lists(st.one_of(resources, json_values), max_size=6), subject=subjects)
def test_fhir_resources_never_raise_anything_but_input_error(engine, items, subject):
    for item in items:
        if isinstance(item, dict) and item.get("resourceType") not in (None, "Patient") and subject is not None:
            item.setdefault("subject", subject)
    try:
        profiles = profiles_from_resources(items + [{"resourceType": "Patient", "id": "p1"}])
    except InputError:
        return
    _report_is_clean(engine, profiles)


@SETTINGS
@given(data=json_values)
def test_fhir_documents_and_cds_requests_never_raise_anything_but_input_error(engine, data):
    try:
        _report_is_clean(engine, load_fhir_json(data, "<fuzz>"))
    except InputError:
        pass
    try:
        prefetch_resources(data if isinstance(data, dict) else None)
        draft_orders({"draftOrders": data, "patientId": "p1"}, "order-sign")
    except InputError:
        pass


PROFILE_FIELDS = ["id", "age", "birth_date", "sex", "weight_kg", "height_cm", "pregnant", "medications",
                  "conditions", "allergies", "labs", "no_known_allergies"]


@SETTINGS
@given(data=st.dictionaries(st.sampled_from(PROFILE_FIELDS), json_values, max_size=8),
       labs=st.lists(st.fixed_dictionaries({"name": st.sampled_from(["eGFR", "creatinine", "potassium"]),
                                            "value": st.one_of(st.floats(), st.integers(-10**6, 10**6))},
                                           optional={"comparator": st.sampled_from(["<", ">", ">=", "<=", "=", 1]),
                                                     "date": st.sampled_from(["2026-10-01", "2099-01-01", "x"])}),
                     max_size=3))
def test_native_profiles_are_a_report_or_an_input_error(engine, data, labs):
    data = {"id": "p", **data, "labs": labs}
    try:
        profile = profile_from_data(data)
    except InputError:
        return
    assert all(math.isfinite(lab.value) for lab in profile.labs)
    assert not isinstance(data.get("age"), bool) or profile.age is None
    _report_is_clean(engine, [profile])


@SETTINGS
@given(text=st.text(max_size=200))
def test_text_parsers_never_raise_anything_but_input_error(text):
    for parse in (load_text, parse_json):
        try:
            parse(text)
        except InputError:
            pass
