"""The CDS Hooks service as a hospital security review probes it: authentication (every rejection path),
feedback only for cards we issued, FHIR reads only where the issuer allows (loopback servers that must
see nothing), deadlines that say screening was incomplete, malformed requests → 400 naming the field,
and 32 concurrent callers all answered correctly. No network: keys are made in the test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jwt")

from cds_auth import AUDIENCE, TestIssuer, authenticated_client, service_config  # noqa: E402
from conftest import AS_OF, SHARED  # noqa: E402
from test_cdshooks import DRAFT_IBUPROFEN, WARFARIN_PATIENT, prefetch_from, request, without_uuids  # noqa: E402

from mtmrules.errors import InputError  # noqa: E402
from mtmrules.service.config import load_config  # noqa: E402

VIEW = "/cds-services/mtmrules-patient-view"
SIGN = "/cds-services/mtmrules-order-sign"


@pytest.fixture()
def client(engine, tmp_path):
    return authenticated_client(engine, tmp_path, AS_OF)


@pytest.fixture(scope="module")
def warfarin():
    return prefetch_from(WARFARIN_PATIENT)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict, secret: bytes | None = None) -> str:
    """A token built by hand (alg none, or HS256 keyed with something public)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()) if secret else ""
    return f"{signing_input}.{signature}"


def outcome_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]
    return body["issue"][0]


# --- authentication ------------------------------------------------------------------------------

def bad_tokens(issuer: TestIssuer, tmp_path):
    aud = AUDIENCE + VIEW
    now = int(time.time())
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    other = TestIssuer(tmp_path / "elsewhere", kid=issuer.kid)    # same kid, a key the service does not know
    rsa = TestIssuer(tmp_path / "elsewhere", kid="rsa", alg="RS256")
    yield "none", None
    yield "not-bearer", "Basic dXNlcjpwYXNz"
    yield "garbage", "Bearer abc.def"
    yield "alg-none", "Bearer " + unsigned({"alg": "none", "kid": issuer.kid, "typ": "JWT"}, issuer.claims(aud))
    yield "hs256-with-public-key", "Bearer " + unsigned({"alg": "HS256", "kid": issuer.kid, "typ": "JWT"},
                                                         issuer.claims(aud), json.dumps(issuer.jwk).encode())
    yield "forged-signature", "Bearer " + other.token(aud=aud)
    yield "untrusted-iss", "Bearer " + issuer.token(aud=aud, iss="https://evil.example")
    yield "wrong-aud", "Bearer " + issuer.token(aud="https://other-service.example/cds-services")
    yield "expired", "Bearer " + issuer.token(aud=aud, iat=now - 600, exp=now - 300)
    yield "issued-in-future", "Bearer " + issuer.token(aud=aud, iat=now + 600, exp=now + 700)
    yield "lives-too-long", "Bearer " + issuer.token(aud=aud, exp=now + 3600)
    yield "no-jti", "Bearer " + issuer.token(aud=aud, jti=None)
    yield "no-exp", "Bearer " + issuer.token(aud=aud, exp=None)
    yield "no-kid", "Bearer " + jwt_encode(issuer, aud, headers={"typ": "JWT"})
    yield "unknown-kid", "Bearer " + issuer.token(aud=aud, headers={"kid": "nope"})
    yield "jku-not-allowed", "Bearer " + issuer.token(aud=aud, headers={"jku": "https://evil.example/jwks.json"})
    yield "alg-not-for-key", "Bearer " + issuer.token(aud=aud, key=rsa.private_key, alg="RS256")


WHY = {"none": "missing", "not-bearer": "Bearer <JWT>", "garbage": "not a JWT", "alg-none": "'none' is not allowed",
       "hs256-with-public-key": "'HS256' is not allowed", "forged-signature": "does not verify",
       "untrusted-iss": "not a trusted issuer", "wrong-aud": "aud", "expired": "expired", "issued-in-future": "future",
       "lives-too-long": "lives longer", "no-jti": "jti", "no-exp": "exp", "no-kid": "no kid", "unknown-kid": "not in the",
       "jku-not-allowed": "jku", "alg-not-for-key": "'RS256' is not allowed"}


def jwt_encode(issuer, aud, headers):
    import jwt
    return jwt.encode(issuer.claims(aud), issuer.private_key, algorithm=issuer.alg, headers=headers)


def test_every_bad_token_gets_401_with_an_operation_outcome(client, warfarin, tmp_path):
    patient_id, prefetch = warfarin
    body = request("patient-view", patient_id, prefetch)
    client.auth = None
    names = []
    for name, header in bad_tokens(client.issuer, tmp_path):
        headers = {"Authorization": header} if header else {}
        response = client.post(VIEW, json=body, headers=headers)
        issue = outcome_of(response, 401)
        assert issue["code"] == "security", name
        assert WHY[name] in issue["diagnostics"], (name, issue["diagnostics"])
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
        assert "cards" not in response.text
        names.append(name)
    assert len(names) == 17


def test_a_replayed_token_is_refused(client, warfarin):
    patient_id, prefetch = warfarin
    client.auth = None
    token = client.issuer.token(aud=AUDIENCE + VIEW)
    body = request("patient-view", patient_id, prefetch)
    assert client.post(VIEW, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = client.post(VIEW, json=body, headers={"Authorization": f"Bearer {token}"})
    assert "already been used" in outcome_of(again, 401)["diagnostics"]


def test_a_token_used_on_one_server_process_is_refused_by_another(engine, tmp_path, warfarin):
    """Server processes share the SQLite file, so the replay check holds across them."""
    from fastapi.testclient import TestClient
    from mtmrules.service.app import create_app
    from mtmrules.service.cdshooks import CdsHooksService
    from mtmrules.service.store import SuppressionStore
    first = authenticated_client(engine, tmp_path, AS_OF)
    second = TestClient(create_app(CdsHooksService(engine, SuppressionStore(tmp_path / "cds.sqlite"), AS_OF), first.config))
    first.auth = None
    headers = {"Authorization": "Bearer " + first.issuer.token(aud=AUDIENCE + VIEW)}
    body = request("patient-view", *warfarin)
    assert first.post(VIEW, json=body, headers=headers).status_code == 200
    assert "already been used" in outcome_of(second.post(VIEW, json=body, headers=headers), 401)["diagnostics"]


def test_aud_may_be_the_service_base_url(engine, tmp_path, warfarin):
    patient_id, prefetch = warfarin
    client = authenticated_client(engine, tmp_path, AS_OF)
    client.auth = None
    ok = client.post(VIEW, json=request("patient-view", patient_id, prefetch),
                     headers={"Authorization": "Bearer " + client.issuer.token(aud=AUDIENCE)})
    assert ok.status_code == 200 and ok.json()["cards"]


def test_jwks_from_an_allowed_url_and_a_matching_jku(engine, tmp_path, warfarin):
    """A JWK Set served over http on loopback (https in production): read once, cached, and a jku header
    naming exactly that URL is accepted."""
    from fastapi.testclient import TestClient
    from cds_auth import SignedRequests
    from mtmrules.service.app import create_app
    from mtmrules.service.cdshooks import CdsHooksService
    from mtmrules.service.config import ServiceConfig, TrustedIssuer
    issuer = TestIssuer(tmp_path)
    hits = []

    class Keys(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            FakeFhir.send(self, json.loads(issuer.jwks_path.read_text()))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        config = ServiceConfig(audience=AUDIENCE, issuers=[TrustedIssuer(iss=issuer.iss, jwks=url)])
        client = TestClient(create_app(CdsHooksService(engine, None, AS_OF), config))
        client.auth = SignedRequests(issuer)
        body = request("patient-view", *warfarin)
        assert client.post(VIEW, json=body).status_code == 200
        assert client.post(VIEW, json=body).status_code == 200
        client.auth = None
        with_jku = issuer.token(aud=AUDIENCE + VIEW, headers={"jku": url})
        assert client.post(VIEW, json=body, headers={"Authorization": f"Bearer {with_jku}"}).status_code == 200
        assert hits == ["/jwks.json"], "the JWK Set is cached"
    finally:
        server.shutdown()
        server.server_close()


def test_feedback_needs_authentication_too(client):
    client.auth = None
    response = client.post(VIEW + "/feedback", json={"feedback": []})
    outcome_of(response, 401)


def test_discovery_is_public_and_cors_only_for_configured_origins(engine, tmp_path):
    closed = authenticated_client(engine, tmp_path, AS_OF)
    closed.auth = None
    assert closed.get("/cds-services").status_code == 200
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in closed.options(VIEW, headers=preflight).headers
    open_ = authenticated_client(engine, tmp_path, AS_OF, allowed_origins=["https://ehr.example.org"])
    allowed = open_.options(VIEW, headers={**preflight, "Origin": "https://ehr.example.org"})
    assert allowed.headers["access-control-allow-origin"] == "https://ehr.example.org"
    assert "access-control-allow-origin" not in open_.options(VIEW, headers=preflight).headers


def test_config_file_is_checked(tmp_path):
    issuer = TestIssuer(tmp_path)
    good = tmp_path / "service.yaml"
    good.write_text(f"audience: https://cds.example.org\nissuers:\n  - iss: {issuer.iss}\n    jwks: {issuer.jwks_path.name}\n"
                    "    fhir_servers: [https://fhir.example.org/r4/]\nallowed_origins: [https://ehr.example.org]\n")
    config = load_config(good)
    assert config.issuers[0].jwks == str(issuer.jwks_path) and config.issuers[0].fhir_servers == ["https://fhir.example.org/r4"]
    for text, where in [("audience: x\nallowed_origins: ['*']\n", "allowed_origins"),
                        ("audience: x\nissuers: [{iss: a, jwks: http://jwks.example/k}]\n", "issuers.0.jwks"),
                        ("audience: x\nissuers: [{iss: a, jwks: k.json, fhir_servers: ['file:///etc']}]\n", "issuers.0.fhir_servers"),
                        ("audience: x\nissuers: [{iss: a, jwks: k.json, fhir_servers: ['http://fhir.example']}]\n", "issuers.0.fhir_servers"),
                        ("audience: x\nissuer: []\n", "issuer"), ("issuers: []\n", "audience")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(InputError) as err:
            load_config(bad)
        assert err.value.where == where, (text, str(err.value))


def test_serve_refuses_no_config_and_insecure_mode_on_a_public_address():
    from typer.testing import CliRunner
    from mtmrules.cli import app
    runner = CliRunner()
    no_config = runner.invoke(app, ["serve"])
    assert no_config.exit_code == 2 and "--config" in no_config.output
    public = runner.invoke(app, ["serve", "--insecure-no-auth", "--host", "0.0.0.0"])
    assert public.exit_code == 2 and "loopback" in public.output


def test_insecure_mode_serves_and_warns_on_every_request(engine, warfarin, caplog):
    from fastapi.testclient import TestClient
    from mtmrules.service.app import create_app
    from mtmrules.service.cdshooks import CdsHooksService
    patient_id, prefetch = warfarin
    client = TestClient(create_app(CdsHooksService(engine, None, AS_OF), insecure_no_auth=True))
    with caplog.at_level("WARNING", logger="mtmrules.service"):
        for _ in range(2):
            assert client.post(VIEW, json=request("patient-view", patient_id, prefetch)).status_code == 200
    assert sum("insecure-no-auth" in r.message for r in caplog.records if r.levelname == "WARNING") == 2
    with pytest.raises(InputError):
        create_app(CdsHooksService(engine, None, AS_OF))      # no config and no opt-out: refused


# --- feedback ------------------------------------------------------------------------------------

def now_stamp(delta=timedelta()):
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def issued_card(client, warfarin):
    patient_id, prefetch = warfarin
    cards = client.post(VIEW, json=request("patient-view", patient_id, prefetch)).json()["cards"]
    return cards[0]


def test_feedback_only_for_cards_issued_to_the_caller(engine, tmp_path, warfarin):
    client = authenticated_client(engine, tmp_path, date.today())
    card = issued_card(client, warfarin)
    override = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now_stamp(),
                "overrideReason": {"reason": card["overrideReasons"][0]}}
    forged = {**override, "card": str(uuid.uuid4())}
    issue = outcome_of(client.post(VIEW + "/feedback", json={"feedback": [forged]}), 400)
    assert issue["expression"] == ["feedback[0].card"]
    # a second trusted issuer cannot override the first one's cards
    from fastapi.testclient import TestClient
    from cds_auth import SignedRequests
    from mtmrules.service.app import create_app
    from mtmrules.service.cdshooks import CdsHooksService
    second = TestIssuer(tmp_path, iss="https://other-ehr.example.org", kid="other")
    config = service_config(client.issuer)
    config.issuers.append(second.trusted())
    both = TestClient(create_app(CdsHooksService(engine, client.store, date.today()), config))
    both.auth = SignedRequests(second)
    issue = outcome_of(both.post(VIEW + "/feedback", json={"feedback": [override]}), 400)
    assert issue["expression"] == ["feedback[0].card"]
    # nothing was suppressed by the refused feedback; the issuer's own feedback works
    assert client.store.active(warfarin[0], date.today()) == {}
    assert client.post(VIEW + "/feedback", json={"feedback": [override]}).json() == {"received": 1, "suppressions": 1}


@pytest.mark.parametrize("change, where", [
    ({"outcome": "ignored"}, "feedback[0].outcome"),
    ({"outcomeTimestamp": None}, "feedback[0].outcomeTimestamp"),
    ({"outcomeTimestamp": "yesterday"}, "feedback[0].outcomeTimestamp"),
    ({"outcomeTimestamp": "2026-11-20T10:00:00"}, "feedback[0].outcomeTimestamp"),        # no time zone
    ({"outcomeTimestamp": now_stamp(timedelta(days=2))}, "feedback[0].outcomeTimestamp"),  # future
    ({"outcomeTimestamp": "2020-01-01T00:00:00Z"}, "feedback[0].outcomeTimestamp"),         # older than any card
    ({"overrideReason": "because"}, "feedback[0].overrideReason"),
    ({"overrideReason": {"reason": {"system": "x", "code": "made-up"}}}, "feedback[0].overrideReason.reason"),
    ({"overrideReason": {"reason": None, "userComment": "x" * 5000}}, "feedback[0].overrideReason.userComment"),
    ({"overrideReason": {"reason": None, "note": "x"}}, "feedback[0].overrideReason"),
    ({"acceptedSuggestions": [{"id": "s"}]}, "feedback[0].acceptedSuggestions"),
    ({"outcome": "accepted"}, "feedback[0].acceptedSuggestions"),
    ({"card": 7}, "feedback[0].card"),
    ({"surprise": 1}, "feedback[0].surprise"),
])
def test_feedback_fields_are_checked(client, warfarin, change, where):
    card = issued_card(client, warfarin)
    item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now_stamp(),
            "overrideReason": {"reason": card["overrideReasons"][0]}}
    if change.get("outcome") == "accepted":
        item.pop("overrideReason")
    item.update(change)
    item = {k: v for k, v in item.items() if v is not None}
    issue = outcome_of(client.post(VIEW + "/feedback", json={"feedback": [item]}), 400)
    assert issue["expression"] == [where]


@pytest.mark.parametrize("body", [[], {}, {"feedback": []}, {"feedback": "x"}, {"feedback": ["x"]}])
def test_feedback_shape_is_checked(client, body):
    issue = outcome_of(client.post(VIEW + "/feedback", json=body), 400)
    assert issue["expression"][0].startswith("feedback")


# --- FHIR server access --------------------------------------------------------------------------

class FakeFhir:
    """A loopback FHIR server that records every request (path and Authorization header)."""

    def __init__(self, resources: list[dict], page_size: int = 0, delay: dict | None = None,
                 next_url: str | None = None, redirect: str | None = None) -> None:
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.seen.append((self.path, self.headers.get("Authorization")))
                outer.answer(self)

        self.resources, self.page_size, self.delay = resources, page_size, delay or {}
        self.next_url, self.redirect = next_url, redirect
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, handler):
        path = handler.path.removeprefix("/fhir/")
        for prefix, seconds in self.delay.items():
            if path.startswith(prefix):
                time.sleep(seconds)
        if self.redirect:
            handler.send_response(302)
            handler.send_header("Location", self.redirect)
            handler.end_headers()
            return
        rtype, _, query = path.partition("?")
        if "/" in rtype:
            rtype, rid = rtype.split("/", 1)
            found = [r for r in self.resources if r["resourceType"] == rtype and r.get("id") == rid]
            return self.send(handler, found[0] if found else {"resourceType": "OperationOutcome"}, 200 if found else 404)
        matches = [r for r in self.resources if r["resourceType"] == rtype]
        page = int(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("_page", 0))
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [], "link": []}
        if self.page_size:
            chunk = matches[page * self.page_size:(page + 1) * self.page_size]
            if (page + 1) * self.page_size < len(matches):
                bundle["link"].append({"relation": "next", "url": f"{self.base}/{rtype}?{query}&_page={page + 1}"})
        else:
            chunk = matches
        if self.next_url:
            bundle["link"] = [{"relation": "next", "url": self.next_url}]
        bundle["entry"] = [{"resource": r} for r in chunk]
        self.send(handler, bundle)

    @staticmethod
    def send(handler, body, status=200):
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def record():
    resources = [e["resource"] for e in json.loads(WARFARIN_PATIENT.read_text())["entry"]]
    servers = []

    def make(**kwargs):
        server = FakeFhir(resources, **kwargs)
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.close()


def fetch_request(patient_id, server):
    body = request("patient-view", patient_id, {})
    body["fhirServer"] = server
    body["fhirAuthorization"] = {"access_token": "EHR-SECRET-TOKEN", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "mtmrules"}
    return body


@pytest.mark.parametrize("server", ["{base}", "file:///etc/passwd", "ftp://127.0.0.1/fhir", "gopher://127.0.0.1:70/",
                                    "http://169.254.169.254/latest/meta-data", "{base}/../other", "{base}?x=1",
                                    "http://user:pw@127.0.0.1/fhir"])
def test_fhir_servers_not_allowed_for_the_issuer_get_no_request_and_no_token(client, record, warfarin, server):
    fake = record()
    response = client.post(VIEW, json=fetch_request(warfarin[0], server.format(base=fake.base)))
    assert outcome_of(response, 403)["expression"] == ["fhirServer"]
    assert fake.seen == []


def test_allowed_fhir_server_is_read_with_paging_and_gets_the_token(engine, tmp_path, record, warfarin):
    fake = record(page_size=40)
    client = authenticated_client(engine, tmp_path, AS_OF, fhir_servers=[fake.base])
    fetched = client.post(VIEW, json=fetch_request(warfarin[0], fake.base))
    assert fetched.status_code == 200
    prefetched = client.post(VIEW, json=request("patient-view", *warfarin))
    assert without_uuids(fetched.json()) == without_uuids(prefetched.json()) and fetched.json()["cards"]
    assert all(auth == "Bearer EHR-SECRET-TOKEN" for _, auth in fake.seen)
    assert any("_page=1" in path for path, _ in fake.seen), "Bundle.link[next] was not followed"


def test_next_links_and_redirects_to_other_hosts_are_not_followed(engine, tmp_path, record, warfarin):
    elsewhere = record()
    for kwargs in ({"next_url": elsewhere.base + "/Condition?page=2"}, {"redirect": elsewhere.base + "/Patient"}):
        fake = record(**kwargs)
        client = authenticated_client(engine, tmp_path, AS_OF, fhir_servers=[fake.base])
        cards = client.post(VIEW, json=fetch_request(warfarin[0], fake.base)).json()["cards"]
        assert "incomplete" in cards[0]["summary"], kwargs
    assert elsewhere.seen == []


def test_page_cap(engine, tmp_path, record, warfarin):
    fake = record(page_size=1)
    client = authenticated_client(engine, tmp_path, AS_OF, fhir_servers=[fake.base], max_pages=3)
    cards = client.post(VIEW, json=fetch_request(warfarin[0], fake.base)).json()["cards"]
    assert "incomplete" in cards[0]["summary"] and "more than 3 pages" in cards[0]["detail"]
    assert max(sum(1 for p, _ in fake.seen if p.startswith(f"/fhir/{t}")) for t in ("Condition", "Observation")) == 3


def test_deadline_answers_with_what_is_known_and_says_so(engine, tmp_path, record, warfarin):
    fake = record(delay={"Observation": 3.0})
    client = authenticated_client(engine, tmp_path, AS_OF, fhir_servers=[fake.base], deadline_s=1.0)
    start = time.perf_counter()
    cards = client.post(VIEW, json=fetch_request(warfarin[0], fake.base)).json()["cards"]
    assert time.perf_counter() - start < 2.9
    assert cards[0]["indicator"] == "warning" and "incomplete" in cards[0]["summary"]
    assert "Observation?patient=" in cards[0]["detail"] and "Condition?" not in cards[0]["detail"]
    assert len(cards) > 1, "what did arrive was screened"
    # the incomplete card cannot be overridden into a suppression
    assert "overrideReasons" not in cards[0]


def test_the_deadline_covers_all_pages_not_each_request(engine, tmp_path, record, warfarin):
    fake = record(page_size=5, delay={"Observation": 0.3})      # every page answers in time, all pages do not
    client = authenticated_client(engine, tmp_path, AS_OF, fhir_servers=[fake.base], deadline_s=1.0, max_pages=10)
    start = time.perf_counter()
    cards = client.post(VIEW, json=fetch_request(warfarin[0], fake.base)).json()["cards"]
    assert time.perf_counter() - start < 2.5
    assert "incomplete" in cards[0]["summary"] and "Observation?patient=" in cards[0]["detail"]


def test_unreachable_fhir_server_is_a_card_saying_nothing_was_screened(engine, tmp_path, record, warfarin):
    fake = record(delay={"Patient": 3.0, "Medication": 3.0, "Condition": 3.0, "Allergy": 3.0, "Observation": 3.0})
    client = authenticated_client(engine, tmp_path, AS_OF, fhir_servers=[fake.base], deadline_s=0.5)
    cards = client.post(VIEW, json=fetch_request(warfarin[0], fake.base)).json()["cards"]
    assert len(cards) == 1 and "Nothing was screened" in cards[0]["detail"]


def test_offline_hook_never_reads_a_fhir_server(engine, record, warfarin):
    from mtmrules.service.cdshooks import CdsHooksService, HookError
    fake = record()
    with pytest.raises(HookError) as err:
        CdsHooksService(engine, None, AS_OF).call("mtmrules-patient-view", fetch_request(warfarin[0], fake.base))
    assert err.value.status == 412 and fake.seen == []


# --- request validation --------------------------------------------------------------------------

def patient_view(**changes):
    body = request("patient-view", "p1", {"pt": {"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"}})
    for key, value in changes.items():
        target = body["context"] if key.startswith("ctx_") else body
        key = key.removeprefix("ctx_")
        if value is ...:
            target.pop(key, None)
        else:
            target[key] = value
    return body


def sign(**context):
    body = request("order-sign", "p1", {"pt": {"resourceType": "Patient", "id": "p1"}},
                   draftOrders={"resourceType": "Bundle", "entry": [{"resource": DRAFT_IBUPROFEN}]})
    body["context"].update(context)
    return {k: v for k, v in body.items()}


def select(**context):
    body = sign(**context)
    body["hook"] = "order-select"
    body["context"].setdefault("selections", ["MedicationRequest/draft-1"])
    body["context"] = {k: v for k, v in body["context"].items() if v is not ...}
    return body


MED = {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "subject": {"reference": "Patient/p1"}}
MALFORMED = [
    ("list body", VIEW, [1, 2], "body"),
    ("hook missing", VIEW, patient_view(hook=...), "hook"),
    ("hook of another service", VIEW, patient_view(hook="order-sign"), "hook"),
    ("hookInstance missing", VIEW, patient_view(hookInstance=...), "hookInstance"),
    ("hookInstance not a uuid", VIEW, patient_view(hookInstance="abc"), "hookInstance"),
    ("hookInstance a number", VIEW, patient_view(hookInstance=5), "hookInstance"),
    ("context missing", VIEW, patient_view(context=...), "context"),
    ("context a list", VIEW, patient_view(context=[]), "context"),
    ("patientId missing", VIEW, patient_view(ctx_patientId=...), "context.patientId"),
    ("patientId a number", VIEW, patient_view(ctx_patientId=7), "context.patientId"),
    ("patientId a path", VIEW, patient_view(ctx_patientId="../../etc/passwd"), "context.patientId"),
    ("userId missing", VIEW, patient_view(ctx_userId=...), "context.userId"),
    ("userId an object", VIEW, patient_view(ctx_userId={}), "context.userId"),
    ("prefetch a list", VIEW, patient_view(prefetch=[]), "prefetch"),
    ("prefetch value a string", VIEW, patient_view(prefetch={"pt": "Patient/p1"}), "prefetch.pt"),
    ("prefetch without resourceType", VIEW, patient_view(prefetch={"pt": {"id": "p1"}}), "prefetch.pt"),
    ("prefetch entry not a list", VIEW, patient_view(prefetch={"b": {"resourceType": "Bundle", "entry": {}}}), "prefetch.b.entry"),
    ("prefetch entry a string", VIEW, patient_view(prefetch={"b": {"resourceType": "Bundle", "entry": ["x"]}}), "prefetch.b.entry[0]"),
    ("resource id a number", VIEW, patient_view(prefetch={"pt": {"resourceType": "Patient", "id": 1}}), "prefetch.pt.id"),
    ("fhirServer a number", VIEW, patient_view(fhirServer=1), "fhirServer"),
    ("fhirAuthorization without fhirServer", VIEW, patient_view(fhirAuthorization={"access_token": "t"}), "fhirServer"),
    ("fhirAuthorization without token", VIEW, patient_view(fhirServer="https://f.example", fhirAuthorization={}),
     "fhirAuthorization.access_token"),
    ("draftOrders missing", SIGN, sign(draftOrders=None), "context.draftOrders"),
    ("draftOrders not a Bundle", SIGN, sign(draftOrders={"resourceType": "MedicationRequest"}), "context.draftOrders"),
    ("draftOrders entry not a list", SIGN, sign(draftOrders={"resourceType": "Bundle", "entry": "x"}), "context.draftOrders.entry"),
    ("draftOrders entry a number", SIGN, sign(draftOrders={"resourceType": "Bundle", "entry": [3]}), "context.draftOrders.entry[0]"),
    ("selections missing", "/cds-services/mtmrules-order-select", select(selections=...), "context.selections"),
    ("selections a string", "/cds-services/mtmrules-order-select", select(selections="MedicationRequest/draft-1"), "context.selections"),
    ("selection of no draft", "/cds-services/mtmrules-order-select", select(selections=["MedicationRequest/zz"]), "context.selections[0]"),
    ("medication a string", VIEW, patient_view(prefetch={"pt": {"resourceType": "Patient", "id": "p1"},
                                                         "m": {**MED, "medicationCodeableConcept": "warfarin"}}), "prefetch"),
    ("dosage a string", VIEW, patient_view(prefetch={"pt": {"resourceType": "Patient", "id": "p1"},
                                                      "m": {**MED, "medicationCodeableConcept": {"text": "warfarin 5 mg"},
                                                            "dosageInstruction": "daily"}}), "prefetch"),
    ("entry resource a list", VIEW, patient_view(prefetch={"b": {"resourceType": "Bundle", "entry": [{"resource": []}]}}),
     "prefetch.b.entry[0].resource"),
]


@pytest.mark.parametrize("name, path, body, where", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_are_400_naming_the_field(client, name, path, body, where):
    issue = outcome_of(client.post(path, json=body), 400)
    assert issue["expression"][0] == where, issue


@pytest.mark.parametrize("raw, why", [(b"{not json", "not valid JSON"), (b'{"hook": "a", "hook": "b"}', "duplicate JSON key 'hook'"),
                                      (b'{"x": NaN}', "NaN"), (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
                                      (b'{"x": "\xff\xfe"}', "UTF-8"), (b'{"x": ' + b"9" * 5000 + b"}", "not valid JSON"),
                                      (b"", "not valid JSON")])
def test_unparseable_bodies_are_400(client, raw, why):
    response = client.post(VIEW, content=raw, headers={"Content-Type": "application/json"})
    issue = outcome_of(response, 400)
    assert issue["expression"] == ["body"] and why in issue["diagnostics"], issue


def test_content_type_and_body_size(engine, tmp_path, warfarin):
    client = authenticated_client(engine, tmp_path, AS_OF, max_body_bytes=50_000)
    body = json.dumps(request("patient-view", *warfarin))
    assert len(body) > 50_000
    outcome_of(client.post(VIEW, content=body, headers={"Content-Type": "text/plain"}), 415)
    outcome_of(client.post(VIEW, content=body, headers={"Content-Type": "application/json"}), 413)

    def chunks():        # no Content-Length: the cap applies while reading
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096].encode()
    outcome_of(client.post(VIEW, content=chunks(), headers={"Content-Type": "application/json"}), 413)


def summaries(response):
    assert response.status_code == 200, response.text
    return sorted(c["summary"] for c in response.json()["cards"])


def test_tolerated_variants_give_the_same_cards(client, warfarin):
    patient_id, prefetch = warfarin
    plain = summaries(client.post(VIEW, json=request("patient-view", patient_id, prefetch)))
    assert plain
    prefixed = request("patient-view", f"Patient/{patient_id}", prefetch)
    assert summaries(client.post(VIEW, json=prefixed)) == plain
    wrapped = request("patient-view", patient_id, {k: {"resource": v} for k, v in prefetch.items()})
    assert summaries(client.post(VIEW, json=wrapped)) == plain
    doubled = request("patient-view", patient_id, {**prefetch, **{f"again-{k}": v for k, v in prefetch.items()}})
    assert summaries(client.post(VIEW, json=doubled)) == plain
    with_nulls = request("patient-view", patient_id, {**prefetch, "empty": None})
    assert summaries(client.post(VIEW, json=with_nulls)) == plain


def test_id_less_draft_orders_still_get_cards(client, warfarin):
    patient_id, prefetch = warfarin
    draft = {k: v for k, v in DRAFT_IBUPROFEN.items() if k != "id"}
    body = request("order-sign", patient_id, prefetch,
                   draftOrders={"resourceType": "Bundle", "entry": [{"resource": draft}]})
    cards = client.post(SIGN, json=body).json()["cards"]
    assert any("buprofen" in c["summary"] for c in cards)
    assert not any("suggestions" in c for c in cards), "no delete suggestion for an id the EHR does not know"


def test_card_uuids_are_keyed_unique_and_not_derivable_from_the_request(client, warfarin, engine):
    body = request("patient-view", *warfarin)
    first = [c["uuid"] for c in client.post(VIEW, json=body).json()["cards"]]
    other = [c["uuid"] for c in client.post(VIEW, json={**body, "hookInstance": str(uuid.uuid4())}).json()["cards"]]
    assert first and len(set(first + other)) == len(first) + len(other)
    assert all(uuid.UUID(u).version == 4 for u in first)
    # the same hook instance answered again gets the same cards (idempotent) ...
    assert [c["uuid"] for c in client.post(VIEW, json=body).json()["cards"]] == first
    # ... but another service (another secret key) gives other uuids for the very same request
    from mtmrules.service.cdshooks import CdsHooksService
    elsewhere = CdsHooksService(engine, None, AS_OF).call("mtmrules-patient-view", body)
    assert {c["uuid"] for c in elsewhere["cards"]}.isdisjoint(first)


# --- concurrency ---------------------------------------------------------------------------------

def test_32_concurrent_callers_are_all_answered_correctly(engine, tmp_path):
    """A real server on loopback; 32 callers at once, each for one of 8 patients; every answer equals the
    offline answer for that patient."""
    import socket

    import httpx
    import uvicorn

    from cds_auth import TestIssuer, service_config
    from mtmrules.service.app import create_app
    from mtmrules.service.cdshooks import CdsHooksService
    from mtmrules.service.store import SuppressionStore

    paths = sorted((SHARED / "fixtures" / "synthea-r4").glob("*.json"))[:8]
    bodies = [request("patient-view", *prefetch_from(p)) for p in paths]
    offline = CdsHooksService(engine, None, AS_OF)
    expected = [sorted(c["summary"] for c in offline.call("mtmrules-patient-view", b)["cards"]) for b in bodies]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    issuer = TestIssuer(tmp_path)
    config = service_config(issuer, workers=8)
    config.audience = base
    app = create_app(CdsHooksService(engine, SuppressionStore(tmp_path / "c.sqlite"), AS_OF), config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        results: dict[int, list[str] | str] = {}

        def call(i: int) -> None:
            body = bodies[i % len(bodies)]
            token = issuer.token(aud=base + VIEW)
            try:
                response = httpx.post(base + VIEW, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
                results[i] = sorted(c["summary"] for c in response.json()["cards"]) if response.status_code == 200 \
                    else f"HTTP {response.status_code}"
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                results[i] = repr(exc)
        callers = [threading.Thread(target=call, args=(i,)) for i in range(32)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(timeout=120)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert len(results) == 32
    wrong = {i: r for i, r in results.items() if r != expected[i % len(bodies)]}
    assert not wrong
