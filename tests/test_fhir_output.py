"""Every FHIR resource mtmrules emits validates against the official FHIR R4 JSON Schema, has a narrative,
and references between resources of one Bundle resolve inside it."""

import json

import pytest

from conftest import AS_OF, ROOT, SHARED

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = SHARED / "reference-data" / "fhir-r4" / "fhir.schema.json"


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA_PATH.exists():
        pytest.skip(f"official FHIR R4 schema not found at {SCHEMA_PATH}")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def _outputs(engine):
    """(name, Bundle) for every FHIR output: the DetectedIssue bundle of several patients and the
    session CarePlan bundle."""
    from mtmrules.adapters.inputs import read_any
    from mtmrules.report.fhir import detected_issue_bundle
    from mtmrules.session.letter import care_plan_bundle
    from mtmrules.session.runner import prepare
    profiles = [p for name in ("mrs-jones.yaml",) for p in read_any(ROOT / "examples" / name)]
    profiles += list(read_any(SHARED / "fixtures" / "synthea-r4"))[:5]
    reports = [engine.check(p, as_of=AS_OF) for p in profiles]
    assert sum(len(r.problems) for r in reports) > 5
    yield "detected-issues", detected_issue_bundle(reports)
    prepared = prepare(engine, profiles[0], AS_OF)
    yield "care-plan", care_plan_bundle(prepared.profile, prepared.facts, prepared.report)


def test_every_fhir_output_is_valid_r4(engine, validator):
    for name, bundle in _outputs(engine):
        errors = sorted(validator.iter_errors(bundle), key=lambda e: list(e.absolute_path))
        assert not errors, f"{name}: {errors[0].message[:300]} at {list(errors[0].absolute_path)}"
        for entry in bundle["entry"]:
            errors = list(validator.iter_errors(entry["resource"]))
            assert not errors, f"{name}: {entry['resource']['resourceType']}: {errors[0].message[:300]}"


def test_every_resource_has_a_narrative_and_no_proposal_is_a_mitigation(engine):
    for name, bundle in _outputs(engine):
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert resource["text"]["status"] == "generated", name
            assert resource["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
            assert "mitigation" not in resource


def test_care_plan_references_resolve_inside_the_bundle(engine):
    bundle = dict(_outputs(engine))["care-plan"]
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    plan = bundle["entry"][0]["resource"]
    assert plan["supportingInfo"], "the example patient has accepted problems"
    assert all(ref["reference"] in urls for ref in plan["supportingInfo"])
    reasons = [ref["reference"] for act in plan["activity"] for ref in act["detail"].get("reasonReference", [])]
    assert reasons and all(ref in urls for ref in reasons)


def test_schema_check_catches_an_invalid_resource(validator):
    # the validator is not vacuous: an element R4 does not define, or a wrongly typed one, fails
    assert list(validator.iter_errors({"resourceType": "DetectedIssue", "proposedAction": "stop"}))
    assert list(validator.iter_errors({"resourceType": "DetectedIssue", "status": 5}))
    assert list(validator.iter_errors({"resourceType": "DetectedIssue", "reference": "a citation with spaces"}))
