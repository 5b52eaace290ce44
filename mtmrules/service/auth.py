"""Who is calling: CDS Hooks 2.0 "Trusting CDS Clients".

Every service and feedback call carries ``Authorization: Bearer <JWT>`` signed by the CDS Client's
private key. The token is accepted only when its ``iss`` is a configured issuer, its ``kid`` names a key
in that issuer's JWK Set (a ``jku`` header must equal the configured JWKS URL), the algorithm is an
asymmetric one that fits the key (never ``none``, never HS*), the signature verifies, ``aud`` is the
service URL or the called endpoint, ``exp``/``iat`` are current (with a small skew) and at most
``max_token_lifetime_s`` apart, and its ``jti`` has not been seen before while the token is alive.

PyJWT (with ``cryptography``) does the JOSE work: it is the most used Python JWT library, it refuses
``none`` unless asked and binds a JWK to one algorithm.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt

from mtmrules.service.config import ServiceConfig, TrustedIssuer

ALGORITHMS_BY_KTY = {
    "RSA": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
    "EC": {"ES256", "ES384", "ES512"},
    "OKP": {"EdDSA"},
}
CURVE_OF = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
JWKS_TTL_S = 3600.0
JWKS_REFRESH_MIN_S = 60.0    # an unknown kid re-reads a remote JWKS at most this often


class AuthError(Exception):
    """The request is not authenticated (HTTP 401)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated CDS Client."""

    iss: str
    sub: str | None
    fhir_servers: tuple[str, ...]


class JwksCache:
    """Public keys per issuer: a local JWK Set file read once, an https JWK Set re-read hourly (and on an
    unknown ``kid``, at most once a minute)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[float, dict]] = {}

    def key(self, issuer: TrustedIssuer, kid: str) -> dict | None:
        jwks = self._get(issuer, refresh=False)
        found = _find(jwks, kid)
        if found is None and "://" in issuer.jwks:
            with self._lock:
                fetched_at = self._sets.get(issuer.jwks, (0.0, {}))[0]
            if time.monotonic() - fetched_at > JWKS_REFRESH_MIN_S:
                found = _find(self._get(issuer, refresh=True), kid)
        return found

    def _get(self, issuer: TrustedIssuer, refresh: bool) -> dict:
        source = issuer.jwks
        with self._lock:
            cached = self._sets.get(source)
        if cached and not refresh and ("://" not in source or time.monotonic() - cached[0] < JWKS_TTL_S):
            return cached[1]
        try:
            if "://" in source:
                response = httpx.get(source, timeout=5.0, follow_redirects=False,
                                     headers={"Accept": "application/json"})
                response.raise_for_status()
                jwks = response.json()
            else:
                jwks = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError, httpx.HTTPError) as exc:
            if cached:
                return cached[1]
            raise AuthError(f"the JWK Set of issuer {issuer.iss!r} could not be read") from exc
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise AuthError(f"the JWK Set of issuer {issuer.iss!r} has no keys")
        with self._lock:
            self._sets[source] = (time.monotonic(), jwks)
        return jwks


def _find(jwks: dict, kid: str) -> dict | None:
    return next((k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == kid), None)


class ReplayCache:
    """``(iss, jti)`` pairs seen, each kept until its token expires (in memory: for one process without a
    store; the server uses :meth:`SuppressionStore.first_use`, shared by all its processes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}

    def first_use(self, iss: str, jti: str, exp: float) -> bool:
        now = time.time()
        with self._lock:
            if len(self._seen) > 1024:
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
            if (iss, jti) in self._seen and self._seen[(iss, jti)] >= now:
                return False
            self._seen[(iss, jti)] = exp
            return True


class Authenticator:
    """Checks bearer JWTs against the configured issuers."""

    def __init__(self, config: ServiceConfig, replays=None) -> None:
        self.config = config
        self.keys = JwksCache()
        self.replays = replays if replays is not None else ReplayCache()
        self.audience = config.audience.rstrip("/")

    def verify(self, authorization: str | None, path: str) -> Caller:
        """The caller named by an ``Authorization`` header, or AuthError saying why not."""
        if not authorization:
            raise AuthError("missing Authorization: Bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("expected Authorization: Bearer <JWT>")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a JWT") from None
        issuer = self.config.issuer(unverified.get("iss")) if isinstance(unverified.get("iss"), str) else None
        if issuer is None:
            raise AuthError("iss is not a trusted issuer")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("the token header has no kid")
        if "jku" in header and header["jku"] != issuer.jwks:
            raise AuthError("jku is not the issuer's configured JWK Set URL")
        jwk = self.keys.key(issuer, kid)
        if jwk is None:
            raise AuthError(f"kid {kid!r} is not in the issuer's JWK Set")
        allowed = ALGORITHMS_BY_KTY.get(jwk.get("kty"), set())
        if alg not in allowed or ("alg" in jwk and jwk["alg"] != alg) or \
                (alg in CURVE_OF and jwk.get("crv") != CURVE_OF[alg]):
            raise AuthError(f"algorithm {alg!r} is not allowed for this key")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims = jwt.decode(
                token, key=key, algorithms=[alg], issuer=issuer.iss,
                audience=[self.audience, self.audience + path], leeway=self.config.clock_skew_s,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "enforce_minimum_key_length": True})
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("the token is issued in the future") from None
        except jwt.InvalidAudienceError:
            raise AuthError("aud is not this service") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token lacks the {exc.claim} claim") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise AuthError("the token signature does not verify") from None
        if not isinstance(claims["iat"], (int, float)) or not isinstance(claims["exp"], (int, float)):
            raise AuthError("iat and exp must be numbers")
        if claims["exp"] - claims["iat"] > self.config.max_token_lifetime_s:
            raise AuthError(f"the token lives longer than {self.config.max_token_lifetime_s} s")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise AuthError("jti must be a non-empty string")
        if not self.replays.first_use(issuer.iss, claims["jti"], claims["exp"] + self.config.clock_skew_s):
            raise AuthError("this token (jti) has already been used")
        sub = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        return Caller(iss=issuer.iss, sub=sub, fhir_servers=tuple(issuer.fhir_servers))
