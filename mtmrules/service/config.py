"""The CDS Hooks service configuration: one YAML file (``mtmrules serve --config service.yaml``).

Per trusted issuer (a CDS Client, usually an EHR): its ``iss``, where its public keys are (``jwks``: a
local JWK Set file or an https URL) and the FHIR servers it may ask the service to read. Plus the
service's own public URL (the JWT ``aud``), the browser origins allowed by CORS, the request body cap
and the per-request deadline.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mtmrules.errors import InputError

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (only such hosts may be reached over plain http)."""
    if not host:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base_url(url: str) -> str:
    """A FHIR base URL as compared against the allow-list: https (or http on loopback), no query or
    fragment, no user info, no trailing slash. Raises ValueError naming what is wrong."""
    if not isinstance(url, str) or not url:
        raise ValueError("expected a URL")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise ValueError(f"{url!r}: only https URLs are allowed")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{url!r}: plain http is only allowed for loopback addresses")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: expected scheme://host[:port]/path without credentials, query or fragment")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


class TrustedIssuer(BaseModel):
    """A CDS Client allowed to call the service."""

    model_config = ConfigDict(extra="forbid")
    iss: str = Field(min_length=1, description="The JWT `iss` this client signs with.")
    jwks: str = Field(min_length=1, description="Its JWK Set: a local file path or an https URL "
                                                 "(a JWT `jku` header must equal this URL).")
    fhir_servers: list[str] = Field(default_factory=list, description="FHIR base URLs it may name in `fhirServer`.")

    @field_validator("fhir_servers")
    @classmethod
    def _servers(cls, servers: list[str]) -> list[str]:
        return [normalise_base_url(s) for s in servers]

    @field_validator("jwks")
    @classmethod
    def _jwks(cls, jwks: str) -> str:
        if "://" in jwks:
            parts = urlsplit(jwks)
            if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
                raise ValueError(f"{jwks!r}: a JWKS URL must be https")
        return jwks


class ServiceConfig(BaseModel):
    """Everything `mtmrules serve` needs to run safely."""

    model_config = ConfigDict(extra="forbid")
    audience: str = Field(min_length=1, description="The service's public base URL, e.g. https://cds.example.org; "
                                                    "a JWT `aud` must be this or the called endpoint's URL.")
    issuers: list[TrustedIssuer] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list, description="Browser origins allowed by CORS (none by default).")
    max_body_bytes: int = Field(default=2_000_000, gt=0, description="Larger request bodies get HTTP 413.")
    deadline_s: float = Field(default=5.0, gt=0, description="Overall time for FHIR server reads in one request.")
    max_pages: int = Field(default=10, gt=0, description="Bundle.link[next] pages followed per query.")
    clock_skew_s: int = Field(default=60, ge=0, le=300, description="Leeway for exp/iat.")
    max_token_lifetime_s: int = Field(default=300, gt=0, le=3600, description="exp - iat above this is refused "
                                                                               "(CDS Hooks: at most 5 minutes).")
    card_memory_s: int = Field(default=7 * 24 * 3600, gt=0, description="How long issued card uuids are accepted as feedback.")
    db: str = Field(default="mtmrules-cds.sqlite", description="SQLite file for issued cards, feedback and suppressions.")
    suppress_days: int = Field(default=90, gt=0)
    workers: int = Field(default=8, gt=0, le=128, description="Threads running the engine.")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        if "*" in origins:
            raise ValueError("'*' is not allowed: list the EHR origins that may call the service from a browser")
        return origins

    def issuer(self, iss: str) -> TrustedIssuer | None:
        return next((i for i in self.issuers if i.iss == iss), None)


def load_config(path: str | Path) -> ServiceConfig:
    """Read and check the service configuration; one-line InputError naming the field on a problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                         line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping with audience, issuers, …", file=str(path))
    try:
        config = ServiceConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"].removeprefix("Value error, "), file=str(path), where=where) from None
    base = path.parent
    for issuer in config.issuers:
        if "://" not in issuer.jwks and not Path(issuer.jwks).is_absolute():
            issuer.jwks = str(base / issuer.jwks)
    if len({i.iss for i in config.issuers}) != len(config.issuers):
        raise InputError("the same iss is listed twice", file=str(path), where="issuers")
    return config
