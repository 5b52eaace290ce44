"""CDC 2022 opioid recommendations answered over CDS Hooks, with requests in the shape of the CDC
Opioid Prescribing Support implementation guide (order-select, order-sign, patient-view): a Patient,
the problem list and the medication list as prefetch, and the new opioid as a draft MedicationRequest."""

import pytest

from conftest import AS_OF

fastapi = pytest.importorskip("fastapi")
from cds_auth import authenticated_client  # noqa: E402

PATIENT = {"resourceType": "Patient", "id": "opioid-1", "gender": "female", "birthDate": "1961-04-02"}


def condition(cid, text, system=None, code=None):
    coding = [{"system": system, "code": code, "display": text}] if system else []
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/opioid-1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": coding, "text": text}}


SNOMED, ICD10 = "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"
HOSPICE = condition("c-hospice", "Hospice care", SNOMED, "385763009")
LOW_BACK_PAIN = condition("c-lbp", "Chronic low back pain", SNOMED, "278860009")
OUD = condition("c-oud", "Opioid dependence, uncomplicated", ICD10, "F11.20")


def med_request(mid, text, *, status="active", frequency=1, period=1, unit="d", form="tablet", authored="2026-11-27"):
    return {"resourceType": "MedicationRequest", "id": mid, "status": status, "intent": "order",
            "subject": {"reference": "Patient/opioid-1"}, "authoredOn": authored,
            "medicationCodeableConcept": {"text": text},
            "dosageInstruction": [{"timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}},
                                   "doseQuantity": {"value": 1, "unit": form}}]}


FENTANYL_DRAFT = med_request("draft-fentanyl", "fentanyl 50 MCG/HR Transdermal System", status="draft",
                             period=72, unit="h", form="patch")
OXYCODONE_DRAFT = med_request("draft-oxy", "oxycodone hydrochloride 10 MG Oral Tablet", status="draft",
                              frequency=1, period=6, unit="h")
LORAZEPAM = med_request("lorazepam", "lorazepam 1 MG Oral Tablet", frequency=2, authored="2026-06-01")


def hook_request(hook, conditions, medications, drafts=()):
    """The IG's request: hook, hookInstance, fhirServer-less context with draftOrders, and prefetch."""
    context = {"userId": "Practitioner/example", "patientId": "opioid-1", "encounterId": "enc-1"}
    if hook != "patient-view":
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": d} for d in drafts]}
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{d['id']}" for d in drafts]
    bundle = lambda items: {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in items]}  # noqa: E731
    return {"hook": hook, "hookInstance": "8f9b5c5e-7a55-4f5e-9a3c-0f1c2b7e6d11", "context": context,
            "prefetch": {"patient": PATIENT, "conditions": bundle(conditions), "medications": bundle(medications),
                         "observations": bundle([]), "allergies": bundle([])}}


@pytest.fixture()
def client(engine, tmp_path):
    """The service as deployed: every request carries a JWT from a trusted issuer."""
    return authenticated_client(engine, tmp_path, AS_OF)


def card_texts(response):
    assert response.status_code == 200, response.text
    return [card["summary"] + " " + card["detail"] for card in response.json()["cards"]]


def post(client, hook, *args):
    return client.post(f"/cds-services/mtmrules-{hook}", json=hook_request(hook, *args))


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_fentanyl_order_gets_mme_naloxone_and_er_la_cards(client, hook):
    texts = " | ".join(card_texts(post(client, hook, [LOW_BACK_PAIN], [], [FENTANYL_DRAFT])))
    assert "MME" in texts                      # 50 mcg/h x 2.4 = 120 MME/day
    assert "naloxone" in texts.lower()
    assert "long-acting" in texts or "extended-release" in texts


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_hospice_patient_on_fentanyl_gets_no_cdc_card(client, hook):
    texts = " | ".join(card_texts(post(client, hook, [HOSPICE], [], [FENTANYL_DRAFT])))
    assert "MME" not in texts and "long-acting" not in texts and "naloxone" not in texts.lower()


def test_oxycodone_with_benzodiazepine_on_order_sign(client):
    texts = " | ".join(card_texts(post(client, "order-sign", [LOW_BACK_PAIN], [LORAZEPAM], [OXYCODONE_DRAFT])))
    assert "lorazepam" in texts.lower() and "naloxone" in texts.lower()
    # 10 mg every 6 hours = 40 mg/day x 1.5 = 60 MME
    assert "MME" in texts


def test_patient_view_recognises_oud_from_icd10_and_offers_treatment(client):
    on_oxy = med_request("oxy", "oxycodone hydrochloride 5 MG Oral Tablet", frequency=1, period=6, unit="h",
                         authored="2026-09-01")
    texts = " | ".join(card_texts(post(client, "patient-view", [OUD], [on_oxy])))
    assert "buprenorphine" in texts.lower()
    assert "opioid use disorder" in texts.lower()
