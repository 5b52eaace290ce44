"""FHIR Bulk Data export reader: group NDJSON resources by patient without holding the export.

A Bulk export keeps one file per resource type, so one patient's resources are spread over every
file. A first pass records, per patient, where each of its lines is (file number and byte offset,
8 bytes per resource); patients are then read back one at a time. So that this index does not grow
with the population either, a large export is split into buckets by a stable hash of the patient
id: the first pass spills each bucket's index records to a temporary file, and the second pass
loads one bucket at a time. Memory is then bounded by the bucket size (``BUCKET_BYTES`` of NDJSON),
whatever the size of the export.
"""

from __future__ import annotations

import json
import math
import stat
import tempfile
import zlib
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

from mtmrules.errors import InputError
from mtmrules.adapters.fhir import USED_TYPES, _subject, profiles_from_resources
from mtmrules.profile.models import Profile
from mtmrules.yamlsource import decode, parse_json, without_bom

#: NDJSON bytes per bucket: below this an export is indexed in memory in one piece
BUCKET_BYTES = 256 * 1024 * 1024
MAX_BUCKETS = 256                    # open spill files at once
_OFFSET_MASK = (1 << 40) - 1         # packed index value: file number << 40 | byte offset

#: ``on_error(error, patient id or None, whole_patient=False)``: a record that was skipped (or with
#: ``whole_patient=True`` a patient that could not be built), with its file, line and reason
OnError = Callable[..., None]
#: longest NDJSON line read (one resource); a longer line is reported and skipped, never held whole
MAX_LINE_BYTES = 64 * 1024 * 1024


def bulk_files(folder: Path) -> list[Path]:
    """The export's NDJSON files of resource types mtmrules reads (``<Type>.*.ndjson``)."""
    return sorted(p for p in folder.glob("*.ndjson") if p.name.split(".")[0] in USED_TYPES)


def _regular(files: list[Path], fail: Callable[[InputError], None]) -> list[Path]:
    """Only regular files: a FIFO or device named like an export file would hang or never end."""
    out = []
    for path in files:
        try:
            regular = stat.S_ISREG(path.stat().st_mode)
        except OSError:
            regular = False
        if regular:
            out.append(path)
        else:
            fail(InputError("expected a regular file (not a device, FIFO or socket); not read", file=str(path)))
    return out


class _Bucket:
    """Index of one bucket of patients: packed line positions per patient, and their order
    (patients with a Patient resource first, in Patient-file order, then the others as found)."""

    def __init__(self) -> None:
        self.offsets: dict[str, array] = {}
        self.seen: list[str] = []
        self.listed: dict[str, None] = {}

    def add(self, pid: str, packed: int, is_patient: bool) -> None:
        positions = self.offsets.get(pid)
        if positions is None:
            positions = self.offsets[pid] = array("q")
            self.seen.append(pid)
        positions.append(packed)
        if is_patient:
            self.listed.setdefault(pid)

    def patients(self) -> Iterator[tuple[str, array]]:
        for pid in [*self.listed, *(p for p in self.seen if p not in self.listed)]:
            yield pid, self.offsets.pop(pid)


class _SpilledIndex:
    """Index records of many buckets, each appended to its own temporary file."""

    def __init__(self, count: int) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mtmrules-bulk-")
        self._handles = [open(Path(self._dir.name) / f"{n}.idx", "w", encoding="utf-8") for n in range(count)]

    def add(self, pid: str, packed: int, is_patient: bool) -> None:
        self._handles[zlib.crc32(pid.encode()) % len(self._handles)].write(f"{pid}\t{packed}\t{int(is_patient)}\n")

    def buckets(self) -> Iterator[_Bucket]:
        for handle in self._handles:
            handle.close()
        for handle in self._handles:
            bucket = _Bucket()
            with open(handle.name, encoding="utf-8") as records:
                for record in records:
                    pid, packed, is_patient = record.rstrip("\n").split("\t")
                    bucket.add(pid, int(packed), is_patient == "1")
            yield bucket

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._dir.cleanup()


def bulk_groups(folder: str | Path, on_error: OnError | None = None, unparsed: bool = False,
                bucket_bytes: int | None = None) -> Iterator[tuple[str, list]]:
    """(patient id, that patient's resources + every Medication resource), one patient at a time.
    With ``unparsed=True`` the patient's own resources come as unparsed NDJSON lines (bytes), so that a
    worker process, not the reader, parses them. With ``on_error(location, reason)``, a malformed
    line is reported and skipped instead of stopping the run.

    Patients come in Patient-file order (then patients known only by reference); when the export is
    larger than ``bucket_bytes`` (default ``BUCKET_BYTES``) that order holds within each bucket.
    """

    def fail(error: InputError) -> None:
        if on_error is None:
            raise error
        on_error(error, None)

    folder = Path(folder)
    files = _regular(bulk_files(folder), fail)
    if not files:
        raise InputError("no FHIR Bulk Data files (*.ndjson named by resource type) in this folder", file=str(folder))
    size = sum(path.stat().st_size for path in files)
    count = min(MAX_BUCKETS, max(1, math.ceil(size / (bucket_bytes or BUCKET_BYTES))))
    index: _Bucket | _SpilledIndex = _Bucket() if count == 1 else _SpilledIndex(count)
    handles = []
    try:
        medication_lines = _index(files, index, fail)
        handles = [path.open("rb") for path in files]

        def line(file_no: int, position: int) -> bytes:
            handles[file_no].seek(position)
            return handles[file_no].readline()
        medications = {str(m.get("id")): m for m in (load_line(line(f, p)) for f, p in medication_lines)}
        for bucket in [index] if isinstance(index, _Bucket) else index.buckets():
            for pid, positions in bucket.patients():
                lines = [line(v >> 40, v & _OFFSET_MASK) for v in positions]
                yield pid, [*medications.values(), *(lines if unparsed else map(load_line, lines))]
    finally:
        for handle in handles:
            handle.close()
        if isinstance(index, _SpilledIndex):
            index.close()


def load_line(raw: bytes) -> dict:
    """A line the first pass already checked (valid UTF-8 JSON object, BOM allowed). Read by orjson when
    it is installed (3× faster), except where orjson would read it differently: it turns integers beyond
    64 bits into floats (so lines with a run of 19+ digits go to ``json``) and refuses lone surrogates,
    which ``json`` reads. A byte-order mark is dropped (``without_bom``)."""
    raw = without_bom(raw)
    if _orjson is not None and _LONG_DIGITS not in raw.translate(_DIGITS):
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode())


try:
    import orjson as _orjson
except ImportError:   # the population extra brings it; without it every line goes to json
    _orjson = None
_DIGITS, _LONG_DIGITS = bytes.maketrans(b"123456789", b"000000000"), b"0" * 19


def _index(files: list[Path], index: _Bucket | _SpilledIndex, fail: Callable[[InputError], None]) -> list[tuple[int, int]]:
    """First pass: every resource line into the index by patient; returns where the Medication
    resources are (shared by all patients)."""
    medication_lines: list[tuple[int, int]] = []
    for file_no, path in enumerate(files):
        with path.open("rb") as handle:
            line_no, position = 0, 0
            while True:
                raw = handle.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break
                line_no += 1
                start, position = position, position + len(raw)
                if len(raw) > MAX_LINE_BYTES:
                    fail(InputError(f"line longer than {MAX_LINE_BYTES:,} bytes; not read", file=str(path), line=line_no))
                    while raw and not raw.endswith(b"\n"):   # skip the rest of the line
                        raw = handle.readline(MAX_LINE_BYTES + 1)
                        position += len(raw)
                    continue
                if not raw.strip():
                    continue
                try:
                    resource = parse_json(decode(raw, str(path), line_no), str(path), line_no)
                except InputError as exc:
                    fail(exc)
                    continue
                if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                    fail(InputError("expected one FHIR resource (an object with a resourceType) per line",
                                    file=str(path), line=line_no))
                elif resource["resourceType"] == "Medication":
                    medication_lines.append((file_no, start))
                else:
                    pid = _subject(resource)
                    if pid is None:
                        what = "id" if resource["resourceType"] == "Patient" else "patient reference (subject.reference)"
                        fail(InputError(f"{resource['resourceType']} without a {what}; not used",
                                        file=str(path), line=line_no))
                    else:
                        index.add(pid, file_no << 40 | start, resource["resourceType"] == "Patient")
    return medication_lines


def read_bulk(folder: str | Path, on_error: OnError | None = None) -> Iterator[Profile]:
    """Stream one profile per patient from a FHIR Bulk Data export folder (``<Type>.*.ndjson``)."""
    for pid, resources in bulk_groups(folder, on_error):
        try:
            profiles = profiles_from_resources(resources, str(folder))
        except InputError as exc:
            error = InputError(f"Patient/{pid}: {exc.reason}", file=exc.file)
            if on_error is None:
                raise error from None
            on_error(error, pid, whole_patient=True)
            continue
        yield from profiles
