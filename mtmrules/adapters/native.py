"""Native profile reader (DESIGN §5.1): JSON or YAML, one profile or a list of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mtmrules.profile.models import Profile
from mtmrules.yamlsource import Document, load_file


def profile_from_data(data: Any, doc: Document | None = None, loc: tuple = ()) -> Profile:
    """Validate one profile mapping; errors name the field (and line when ``doc`` is given)."""
    if isinstance(data, Profile):
        return data
    doc = doc or Document(data, "<profile>")
    if not isinstance(data, dict):
        raise doc.error(loc, "a profile is a mapping with at least an id")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise doc.validation_error(exc, loc) from None


def read_profiles(path: str | Path) -> list[Profile]:
    """All profiles in a native JSON/YAML file (a mapping, or a list of mappings)."""
    doc = load_file(path)
    if isinstance(doc.data, list):
        return [profile_from_data(item, doc, (i,)) for i, item in enumerate(doc.data)]
    return [profile_from_data(doc.data, doc)]
