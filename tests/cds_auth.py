"""Test helpers for the authenticated CDS Hooks service: an issuer with a key pair made in the test (its
JWK Set written to a file, no network), tokens it signs, and a TestClient that signs every request.

    from cds_auth import authenticated_client
    client = authenticated_client(engine, tmp_path)          # client.post(...) carries a fresh JWT
    client.issuer.token(aud=..., exp=...)                    # hand-made tokens for rejection tests
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mtmrules.service.app import create_app
from mtmrules.service.cdshooks import CdsHooksService
from mtmrules.service.config import ServiceConfig, TrustedIssuer
from mtmrules.service.store import SuppressionStore

AUDIENCE = "http://testserver"   # TestClient's base URL
ISS = "https://ehr.example.org"


class TestIssuer:
    """A CDS Client's signing key (EC P-384 / ES384, as CDS Hooks recommends, or RSA) and its JWK Set."""

    __test__ = False

    def __init__(self, folder: Path, iss: str = ISS, kid: str = "ehr-key-1", alg: str = "ES384") -> None:
        self.iss, self.kid, self.alg = iss, kid, alg
        self.private_key = ec.generate_private_key(ec.SECP384R1()) if alg.startswith("ES") else \
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(self.private_key.public_key()))
        self.jwk = {**public, "kid": kid, "alg": alg, "use": "sig"}
        self.jwks_path = Path(folder) / f"jwks-{kid}.json"
        self.jwks_path.write_text(json.dumps({"keys": [self.jwk]}))

    def claims(self, aud: str, **overrides) -> dict:
        now = int(time.time())
        claims = {"iss": self.iss, "sub": "ehr-client", "aud": aud, "iat": now, "exp": now + 120,
                  "jti": str(uuid.uuid4())}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, aud: str = AUDIENCE, headers: dict | None = None, key=None, alg: str | None = None,
              **claims) -> str:
        """A signed JWT; ``claims`` override (None removes) the defaults."""
        return jwt.encode(self.claims(aud, **claims), key if key is not None else self.private_key,
                          algorithm=alg or self.alg, headers={"kid": self.kid, "typ": "JWT", **(headers or {})})

    def trusted(self, fhir_servers=()) -> TrustedIssuer:
        return TrustedIssuer(iss=self.iss, jwks=str(self.jwks_path), fhir_servers=list(fhir_servers))


class SignedRequests(httpx.Auth):
    """Signs each request with a fresh token whose aud is the called endpoint (as CDS Hooks 2.0 says)."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer

    def auth_flow(self, request):
        request.headers["Authorization"] = "Bearer " + self.issuer.token(aud=AUDIENCE + request.url.path)
        yield request


def service_config(issuer: TestIssuer, fhir_servers=(), **settings) -> ServiceConfig:
    return ServiceConfig(audience=AUDIENCE, issuers=[issuer.trusted(fhir_servers)], **settings)


def authenticated_client(engine, tmp_path, as_of=None, fhir_servers=(), **settings):
    """A TestClient for a service that trusts one test issuer; every request is signed. The client has
    ``issuer`` (for hand-made tokens), ``store`` and ``config`` attributes."""
    from fastapi.testclient import TestClient

    if as_of is None:
        from conftest import AS_OF as as_of
    issuer = TestIssuer(tmp_path)
    config = service_config(issuer, fhir_servers, **settings)
    store = SuppressionStore(tmp_path / "cds.sqlite", days=config.suppress_days, card_memory_s=config.card_memory_s)
    client = TestClient(create_app(CdsHooksService(engine, store, as_of), config))
    client.auth = SignedRequests(issuer)
    client.issuer, client.store, client.config = issuer, store, config
    return client
