"""CDS Hooks 2.0 service through the ASGI test client, with requests built from the shared Synthea fixtures."""

import json
import subprocess
import sys

import pytest

from mtmrules.service.cdshooks import discovery
from mtmrules.service.store import SuppressionStore

from conftest import AS_OF, ROOT, SHARED

fastapi = pytest.importorskip("fastapi")
from cds_auth import authenticated_client  # noqa: E402

SYNTHEA = SHARED / "fixtures" / "synthea-r4"
WARFARIN_PATIENT = next(SYNTHEA.glob("Clarine_O'Keefe_*.json"))


def prefetch_from(path):
    """A prefetch as an EHR might send it: the patient, plus searchset bundles under EHR-chosen keys."""
    resources = [e["resource"] for e in json.loads(path.read_text())["entry"]]
    by_type = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    patient = by_type.pop("Patient")[0]
    prefetch = {"pt": patient}
    for i, (rtype, items) in enumerate(sorted(by_type.items())):
        prefetch[f"key{i}"] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in items]}
    return patient["id"], prefetch


def request(hook, patient_id, prefetch, **context):
    return {"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": patient_id, **context}, "prefetch": prefetch}


DRAFT_IBUPROFEN = {"resourceType": "MedicationRequest", "id": "draft-1", "status": "draft", "intent": "order",
                   "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                             "code": "310965", "display": "Ibuprofen 200 MG Oral Tablet"}]},
                   "dosageInstruction": [{"timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
                                          "doseQuantity": {"value": 2, "unit": "tablet"}}]}
DRAFT_APAP = {**DRAFT_IBUPROFEN, "id": "draft-2",
              "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                        "code": "313782", "display": "Acetaminophen 325 MG Oral Tablet"}]}}


@pytest.fixture()
def client(engine, tmp_path):
    return authenticated_client(engine, tmp_path, AS_OF)


def now_stamp():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def without_uuids(value):
    if isinstance(value, dict):
        return {k: without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [without_uuids(v) for v in value]
    return value


def assert_valid_card(card):
    assert card["uuid"] and isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"].startswith("mtmrules")
    assert card["detail"] and all(r["display"] for r in card["overrideReasons"])
    if "suggestions" in card:
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for suggestion in card["suggestions"]:
            assert suggestion["label"] and suggestion["actions"]
            for action in suggestion["actions"]:
                assert action["type"] in ("create", "update", "delete") and action["description"]


def test_discovery(client):
    body = client.get("/cds-services").json()
    hooks = {s["hook"] for s in body["services"]}
    assert hooks == {"patient-view", "order-select", "order-sign"}
    templates = " ".join(body["services"][0]["prefetch"].values())
    for rtype in ("Patient/", "MedicationRequest?", "Condition?", "AllergyIntolerance?", "Observation?"):
        assert rtype in templates
    assert body == discovery()


@pytest.mark.parametrize("path", sorted(SYNTHEA.glob("*.json"))[:12], ids=lambda p: p.name[:20])
def test_patient_view_on_fixtures(client, path):
    patient_id, prefetch = prefetch_from(path)
    response = client.post("/cds-services/mtmrules-patient-view", json=request("patient-view", patient_id, prefetch))
    assert response.status_code == 200
    for card in response.json()["cards"]:
        assert_valid_card(card)


def test_order_sign_only_cards_about_the_draft_with_a_delete_suggestion(client):
    patient_id, prefetch = prefetch_from(WARFARIN_PATIENT)
    drafts = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": DRAFT_IBUPROFEN}]}
    response = client.post("/cds-services/mtmrules-order-sign",
                           json=request("order-sign", patient_id, prefetch, draftOrders=drafts))
    cards = response.json()["cards"]
    assert cards, "warfarin + a draft NSAID must produce a card"
    for card in cards:
        assert_valid_card(card)
    ddi = next(c for c in cards if "arfarin" in c["summary"] and "buprofen" in c["summary"])
    assert ddi["indicator"] in ("warning", "critical")
    action = ddi["suggestions"][0]["actions"][0]
    assert action == {"type": "delete", "description": "Delete draft MedicationRequest/draft-1",
                      "resourceId": "MedicationRequest/draft-1"}
    # patient-view for the same patient shows problems that do not involve any draft; order-sign does not
    view = client.post("/cds-services/mtmrules-patient-view", json=request("patient-view", patient_id, prefetch)).json()
    assert {c["summary"] for c in view["cards"]} - {c["summary"] for c in cards}


def test_order_select_respects_selections(client):
    patient_id, prefetch = prefetch_from(WARFARIN_PATIENT)
    drafts = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": DRAFT_IBUPROFEN}, {"resource": DRAFT_APAP}]}
    only_apap = client.post("/cds-services/mtmrules-order-select", json=request(
        "order-select", patient_id, prefetch, draftOrders=drafts, selections=["MedicationRequest/draft-2"])).json()
    assert not any("buprofen" in c["summary"] for c in only_apap["cards"])
    with_nsaid = client.post("/cds-services/mtmrules-order-select", json=request(
        "order-select", patient_id, prefetch, draftOrders=drafts, selections=["MedicationRequest/draft-1"])).json()
    assert any("buprofen" in c["summary"] for c in with_nsaid["cards"])


def test_missing_prefetch_is_412_with_operation_outcome(client):
    response = client.post("/cds-services/mtmrules-patient-view", json=request("patient-view", "p1", {}))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    unknown = client.post("/cds-services/nope", json=request("patient-view", "p1", {}))
    assert unknown.status_code == 404


def test_override_with_reason_suppresses_and_is_visible(engine, tmp_path):
    from datetime import date
    today = date.today()     # feedback timestamps are checked against the clock, so evaluate today
    client = authenticated_client(engine, tmp_path, today)
    patient_id, prefetch = prefetch_from(WARFARIN_PATIENT)
    first = client.post("/cds-services/mtmrules-patient-view", json=request("patient-view", patient_id, prefetch)).json()
    card = first["cards"][0]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now_stamp(),
                              "overrideReason": {"reason": first["cards"][0]["overrideReasons"][1], "userComment": "INR clinic aware"}}]}
    ack = client.post("/cds-services/mtmrules-patient-view/feedback", json=feedback).json()
    assert ack == {"received": 1, "suppressions": 1}
    second = client.post("/cds-services/mtmrules-patient-view", json=request("patient-view", patient_id, prefetch)).json()
    assert card["summary"] not in {c["summary"] for c in second["cards"]}
    # who sent it is recorded with the feedback and the suppression
    import sqlite3
    db = sqlite3.connect(tmp_path / "cds.sqlite")
    assert db.execute("SELECT outcome, iss, sub FROM feedback").fetchall() == [("overridden", client.issuer.iss, "ehr-client")]
    assert db.execute("SELECT iss, sub FROM suppressions").fetchall() == [(client.issuer.iss, "ehr-client")]
    # and a later report names the suppression
    from mtmrules.service.store import apply_suppressions
    from mtmrules.adapters import fhir
    store = SuppressionStore(tmp_path / "cds.sqlite")
    report = apply_suppressions(engine.check(fhir.profile_from_bundle(json.loads(WARFARIN_PATIENT.read_text())),
                                             as_of=today), store)
    assert report.suppressed and report.suppressed[0].reason == "Already addressed / will monitor"


def test_accepted_feedback_does_not_suppress(client):
    patient_id, prefetch = prefetch_from(WARFARIN_PATIENT)
    first = client.post("/cds-services/mtmrules-patient-view", json=request("patient-view", patient_id, prefetch)).json()
    ack = client.post("/cds-services/mtmrules-patient-view/feedback",
                      json={"feedback": [{"card": first["cards"][0]["uuid"], "outcome": "accepted",
                                          "acceptedSuggestions": [{"id": "y"}], "outcomeTimestamp": now_stamp()}]}).json()
    assert ack == {"received": 1, "suppressions": 0}
    again = client.post("/cds-services/mtmrules-patient-view", json=request("patient-view", patient_id, prefetch)).json()
    assert [c["summary"] for c in again["cards"]] == [c["summary"] for c in first["cards"]]


def test_hook_command_replays_a_request(tmp_path, client):
    patient_id, prefetch = prefetch_from(WARFARIN_PATIENT)
    body = request("patient-view", patient_id, prefetch)
    path = tmp_path / "req.json"
    path.write_text(json.dumps(body))
    proc = subprocess.run([sys.executable, "-m", "mtmrules.cli", "hook", str(path), "--as-of", "2026-11-27"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    offline = json.loads(proc.stdout)
    online = client.post("/cds-services/mtmrules-patient-view", json=body).json()
    assert without_uuids(offline) == without_uuids(online) and offline["cards"]
    # card uuids are keyed by the service's secret: an outsider cannot predict them from the request
    assert {c["uuid"] for c in offline["cards"]}.isdisjoint(c["uuid"] for c in online["cards"])
    # the offline replay is reproducible: same request and --as-of, byte-identical output
    again = subprocess.run([sys.executable, "-m", "mtmrules.cli", "hook", str(path), "--as-of", "2026-11-27"],
                           capture_output=True, text=True, cwd=ROOT)
    assert again.stdout == proc.stdout
