"""Every input the CLI accepts, recognised by shape: native profiles, FHIR Bundles/resources, Bulk NDJSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mtmrules.errors import InputError
from mtmrules.profile.models import Profile
from mtmrules.adapters.native import profile_from_data
from mtmrules.yamlsource import MAX_FILE_BYTES, Document, check_regular_file, decode, load_file, parse_json

INPUT_SUFFIXES = (".json", ".yaml", ".yml")


def _looks_fhir(data: object) -> bool:
    return (isinstance(data, dict) and "resourceType" in data) or (
        isinstance(data, list) and bool(data) and all(isinstance(d, dict) and "resourceType" in d for d in data))


def profiles_from_data(data: object, doc: Document | None = None, where: str = "<input>") -> Iterator[Profile]:
    """Profiles from parsed data: a FHIR Bundle / resource / resource list, a list of native profiles,
    or one native profile (errors name the line when ``doc`` is given)."""
    from mtmrules.adapters import fhir
    if _looks_fhir(data):
        yield from fhir.load_fhir_json(data, doc.file if doc else where)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield profile_from_data(item, doc, (i,))
    else:
        yield profile_from_data(data, doc)


def read_ndjson(path: Path) -> list[dict]:
    """The resources of one NDJSON file (regular file, bounded size, one JSON object per line)."""
    check_regular_file(path, MAX_FILE_BYTES)
    resources = []
    with path.open("rb") as handle:
        for n, raw in enumerate(handle, 1):
            if raw.strip():
                resources.append(parse_json(decode(raw, str(path), n), str(path), n))
    return resources


def read_any(path: str | Path) -> Iterator[Profile]:
    """Profiles from a file or folder: a Bulk Data export folder (``*.ndjson``), a folder of profile,
    Bundle or single-resource files (resources of one patient spread over files are grouped into one
    profile), an .ndjson file of FHIR resources, a FHIR Bundle / resource / resource list (JSON), or
    native profiles (JSON or YAML)."""
    from mtmrules.adapters import fhir
    from mtmrules.adapters.bulk import read_bulk
    path = Path(path)
    if path.is_dir():
        if any(path.glob("*.ndjson")):
            yield from read_bulk(path)
        else:
            yield from _read_folder(path)
        return
    if path.suffix.lower() == ".ndjson":
        yield from fhir.profiles_from_resources(read_ndjson(path), str(path))
        return
    doc = load_file(path)
    yield from profiles_from_data(doc.data, doc, str(path))


def _read_folder(path: Path) -> Iterator[Profile]:
    """Native profiles and Bundles file by file; loose FHIR resources (one per file, as an EHR export or
    a test-patient folder holds them) pooled and grouped by patient, so one patient is one report."""
    from mtmrules.adapters import fhir
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in INPUT_SUFFIXES)
    if not files:
        raise InputError("folder holds no .ndjson, .json or .yaml inputs", file=str(path))
    loose: list[dict] = []
    for file in files:
        doc = load_file(file)
        data = doc.data
        if _looks_fhir(data) and not (isinstance(data, dict) and data.get("resourceType") == "Bundle"):
            loose.extend(data if isinstance(data, list) else [data])
        else:
            yield from profiles_from_data(data, doc, str(file))
    if loose:
        yield from fhir.profiles_from_resources(loose, str(path))
