"""Every input the CLI accepts, recognised by shape: native profiles, FHIR Bundles/resources, Bulk NDJSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from mtmrules.errors import InputError
from mtmrules.profile.models import Profile
from mtmrules.adapters.native import profile_from_data
from mtmrules.yamlsource import load_file


def read_any(path: str | Path) -> Iterator[Profile]:
    """Profiles from a file or folder: a Bulk Data export folder (``*.ndjson``), a folder of profile or
    Bundle files, an .ndjson file of FHIR resources, a FHIR Bundle / resource / resource list (JSON),
    or native profiles (JSON or YAML)."""
    from mtmrules.adapters import fhir
    from mtmrules.adapters.bulk import read_bulk
    path = Path(path)
    if path.is_dir():
        if any(path.glob("*.ndjson")):
            yield from read_bulk(path)
        else:
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".yaml", ".yml"))
            if not files:
                raise InputError("folder holds no .ndjson, .json or .yaml inputs", file=str(path))
            for file in files:
                yield from read_any(file)
        return
    if path.suffix.lower() == ".ndjson":
        resources = []
        try:
            with path.open(encoding="utf-8") as handle:
                for n, line in enumerate(handle, 1):
                    if line.strip():
                        try:
                            resources.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            raise InputError(f"not valid JSON: {exc.msg}", file=str(path), line=n) from None
        except FileNotFoundError:
            raise InputError("file not found", file=str(path)) from None
        yield from fhir.profiles_from_resources(resources, str(path))
        return
    doc = load_file(path)
    data = doc.data
    looks_fhir = (isinstance(data, dict) and "resourceType" in data) or (
        isinstance(data, list) and data and all(isinstance(d, dict) and "resourceType" in d for d in data))
    if looks_fhir:
        yield from fhir.load_fhir_json(data, str(path))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield profile_from_data(item, doc, (i,))
    else:
        yield profile_from_data(data, doc)
