"""JSON Schemas generated from the pydantic models (the single source of truth)."""

from __future__ import annotations

from typing import Any


def json_schema(which: str) -> dict[str, Any]:
    """Schema for ``pack``, ``profile``, ``report`` or ``site`` (site policy)."""
    if which == "pack":
        from mtmrules.engine.pack import Pack
        schema = Pack.model_json_schema(by_alias=True)
    elif which == "profile":
        from mtmrules.profile.models import Profile
        schema = Profile.model_json_schema()
    elif which == "report":
        from mtmrules.report.models import Report
        schema = Report.model_json_schema()
    elif which == "site":
        from mtmrules.engine.site import SitePolicy
        schema = SitePolicy.model_json_schema()
    else:
        raise ValueError(f"unknown schema {which!r}")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
