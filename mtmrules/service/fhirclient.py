"""Reading the patient's record from the CDS Client's FHIR server when the prefetch lacks it.

Only a server on the authenticated issuer's ``fhir_servers`` list is contacted (https, or http on a
loopback address); the EHR's access token goes only there. The prefetch queries run concurrently
under one deadline; ``Bundle.link[next]`` pages are followed up to a cap, and only while they stay
under the same base URL; redirects are not followed. Whatever did not complete is listed in
``FetchResult.missing`` so the answer can say that screening was incomplete.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from mtmrules.service.config import normalise_base_url


class FhirAccessError(Exception):
    """The named FHIR server may not be contacted."""


@dataclass
class FetchResult:
    resources: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # "Condition?patient=…: timed out" …


def allowed_server(server: str, allowed: tuple[str, ...]) -> str:
    """The normalised base URL if ``server`` is on the allow-list; FhirAccessError otherwise."""
    try:
        base = normalise_base_url(server)
    except ValueError as exc:
        raise FhirAccessError(f"fhirServer: {exc}") from None
    if base not in allowed:
        raise FhirAccessError("fhirServer: this FHIR server is not allowed for the calling issuer")
    return base


async def fetch_all(base: str, queries: list[str], token: str | None, deadline_s: float, max_pages: int) -> FetchResult:
    """Run every query (relative to ``base``) at once; stop at ``deadline_s``, keeping what arrived."""
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    result = FetchResult()
    async with httpx.AsyncClient(headers=headers, follow_redirects=False, timeout=deadline_s, trust_env=False) as client:
        tasks = {asyncio.create_task(_query(client, base, q, max_pages, result)): q for q in queries}
        done, pending = await asyncio.wait(tasks, timeout=deadline_s)
        for task in pending:
            task.cancel()
            result.missing.append(f"{tasks[task]}: no answer within {deadline_s:g} s")
        for task in done:
            if task.exception() is not None:
                result.missing.append(f"{tasks[task]}: {task.exception()}")
    return result


async def _query(client: httpx.AsyncClient, base: str, query: str, max_pages: int, result: FetchResult) -> None:
    url = f"{base}/{query}"
    for _ in range(max_pages):
        response = await client.get(url)
        if response.status_code == 404 and "?" not in query:
            return                         # no such resource: nothing to add, nothing missing
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise RuntimeError("the answer is not JSON") from None
        if not isinstance(data, dict):
            raise RuntimeError("the answer is not a FHIR resource")
        if data.get("resourceType") != "Bundle":
            result.resources.append(data)
            return
        result.resources.extend(e["resource"] for e in data.get("entry") or []
                                if isinstance(e, dict) and isinstance(e.get("resource"), dict))
        url = next((link.get("url") for link in data.get("link") or []
                    if isinstance(link, dict) and link.get("relation") == "next"), None)
        if not url:
            return
        if not isinstance(url, str) or not (url == base or url.startswith(base + "/") or url.startswith(base + "?")):
            raise RuntimeError("the next page is on another server; not followed")
    raise RuntimeError(f"more than {max_pages} pages; the rest not read")
