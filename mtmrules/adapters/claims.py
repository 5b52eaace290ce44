"""Claims-style input: one row per medication fill (CSV or Parquet), optional diagnosis and patient tables.

Columns (names are matched case-insensitively; aliases in brackets):
- fills: ``patient_id`` [member_id, patient], ``drug`` [drug_name, name], ``ndc``, ``rxnorm`` [rxcui],
  ``fill_date`` [date_of_service, service_date], ``days_supply`` [days], ``quantity`` [qty];
  optional ``sig``, ``dose``, ``frequency``, ``prescriber``.
- diagnoses (``--diagnoses``): ``patient_id``, ``icd10`` [code, diagnosis_code] or ``snomed``, ``description``.
- patients (``--patients``): ``patient_id``, ``birth_date`` [dob] or ``age``, ``sex`` [gender].

Rows of one patient must be contiguous (sort the extract by patient): the reader streams, so memory
holds one chunk of rows plus one patient, whatever the table's size. A medication is the set of
fills of one drug; it counts as active when its last fill covers a day within 30 days before
``as_of`` (a grace period for late refills).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from mtmrules.errors import InputError
from mtmrules.profile.models import Code, Condition, Fill, Medication, Profile, Source

ALIASES = {
    "patient_id": ("patient_id", "member_id", "patient", "patientid"),
    "drug": ("drug", "drug_name", "name", "medication"),
    "ndc": ("ndc",), "rxnorm": ("rxnorm", "rxcui"),
    "fill_date": ("fill_date", "date_of_service", "service_date", "date"),
    "days_supply": ("days_supply", "days", "dayssupply"),
    "quantity": ("quantity", "qty"), "sig": ("sig",), "dose": ("dose",), "frequency": ("frequency",),
    "prescriber": ("prescriber",),
    "icd10": ("icd10", "code", "diagnosis_code"), "snomed": ("snomed",), "description": ("description",),
    "birth_date": ("birth_date", "dob"), "age": ("age",), "sex": ("sex", "gender"),
}
ACTIVE_GRACE_DAYS = 30
CHUNK_ROWS = 50_000


def _columns(frame: pd.DataFrame, required: tuple[str, ...], where: str) -> dict[str, str]:
    lower = {c.lower().strip(): c for c in frame.columns}
    found = {}
    for key, names in ALIASES.items():
        for name in names:
            if name in lower:
                found[key] = lower[name]
                break
    missing = [k for k in required if k not in found]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)} (have: {', '.join(map(str, frame.columns))})", file=where)
    return found


def _read(path: Path, chunk: int | None = None):
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
        if chunk is None:
            return frame
        return (frame.iloc[i:i + chunk] for i in range(0, len(frame), chunk))
    if not path.exists():
        raise InputError("file not found", file=str(path))
    return pd.read_csv(path, dtype=str, chunksize=chunk, keep_default_na=False)


def _side_table(path: Path | None, required: tuple[str, ...]) -> dict[str, list[dict]]:
    if path is None:
        return {}
    frame = _read(path)
    cols = _columns(frame, required, str(path))
    out: dict[str, list[dict]] = {}
    for record in frame.astype(str).to_dict("records"):
        out.setdefault(record[cols["patient_id"]], []).append({k: record[v] for k, v in cols.items()})
    return out


def _date(text: str, where: str, line: int) -> date:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        raise InputError(f"fill_date: expected YYYY-MM-DD (got {text!r})", file=where, line=line) from None


def read_claims(path: str | Path, as_of: date, diagnoses: str | Path | None = None,
                patients: str | Path | None = None,
                on_error: Callable[[str, str], None] | None = None) -> Iterator[Profile]:
    """Stream one profile per patient from a fills table (plus optional diagnosis and patient tables)."""
    path = Path(path)
    dx = _side_table(Path(diagnoses) if diagnoses else None, ("patient_id",))
    demo = _side_table(Path(patients) if patients else None, ("patient_id",))
    seen: set[str] = set()
    current: str | None = None
    rows: list[tuple[int, dict]] = []
    line = 1
    for frame in _read(path, CHUNK_ROWS):
        cols = _columns(frame, ("patient_id", "fill_date", "days_supply"), str(path))
        if not ({"drug", "ndc", "rxnorm"} & set(cols)):
            raise InputError("need a drug name, ndc or rxnorm column", file=str(path))
        for record in frame.astype(object).where(frame.notna(), "").astype(str).to_dict("records"):
            line += 1
            row = {k: record[v].strip() for k, v in cols.items()}
            pid = row["patient_id"]
            if pid != current:
                if current is not None:
                    yield from _emit(current, rows, dx, demo, as_of, str(path), on_error)
                if pid in seen:
                    raise InputError(f"rows for patient {pid!r} are not contiguous; sort the table by patient",
                                     file=str(path), line=line)
                seen.add(pid)
                current, rows = pid, []
            rows.append((line, row))
    if current is not None:
        yield from _emit(current, rows, dx, demo, as_of, str(path), on_error)


def _emit(pid, rows, dx, demo, as_of, where, on_error) -> Iterator[Profile]:
    try:
        yield _profile(pid, rows, dx.get(pid, []), (demo.get(pid) or [{}])[0], as_of, where)
    except InputError as exc:
        if on_error is None:
            raise
        on_error(f"{where}:{exc.line or rows[0][0]}", f"patient {pid}: {exc.reason}")


def _profile(pid: str, rows: list[tuple[int, dict]], dx: list[dict], demo: dict, as_of: date, where: str) -> Profile:
    by_drug: dict[tuple, list[tuple[int, dict]]] = {}
    for line, row in rows:
        key = (row.get("rxnorm") or "", row.get("ndc") or "", (row.get("drug") or "").lower())
        by_drug.setdefault(key, []).append((line, row))
    meds = []
    for (rxcui, ndc, _), fills in by_drug.items():
        line, first = fills[-1]
        parsed = []
        for fline, row in fills:
            try:
                days = int(float(row["days_supply"]))
            except ValueError:
                raise InputError(f"days_supply: expected a whole number (got {row['days_supply']!r})", file=where, line=fline) from None
            if days <= 0:
                raise InputError(f"days_supply: expected a positive number (got {days})", file=where, line=fline)
            when = _date(row["fill_date"], where, fline)
            if when > as_of:
                continue  # not yet dispensed at as_of
            parsed.append(Fill(date=when, days_supply=days))
        if not parsed:
            continue
        last = max(parsed, key=lambda f: f.date)
        active = last.date + timedelta(days=last.days_supply + ACTIVE_GRACE_DAYS) >= as_of
        code = Code(system="rxnorm", code=rxcui) if rxcui else (Code(system="ndc", code=ndc) if ndc else None)
        meds.append(Medication(name=first.get("drug") or None, code=code, sig=first.get("sig") or None,
                               dose=first.get("dose") or None, frequency=first.get("frequency") or None,
                               prescriber=first.get("prescriber") or None, fills=sorted(parsed, key=lambda f: f.date),
                               status="active" if active else "stopped", source=Source(type="claims", id=f"{where}:{line}")))
    conditions = []
    for row in dx:
        if row.get("icd10"):
            conditions.append(Condition(name=row.get("description") or None, code=Code(system="icd10", code=row["icd10"])))
        elif row.get("snomed"):
            conditions.append(Condition(name=row.get("description") or None, code=Code(system="snomed", code=row["snomed"])))
        elif row.get("description"):
            conditions.append(Condition(name=row["description"]))
    sex = (demo.get("sex") or "unknown").lower()
    sex = {"f": "female", "m": "male"}.get(sex, sex)
    age = demo.get("age")
    return Profile(id=pid, sex=sex if sex in ("female", "male", "other") else "unknown",
                   birth_date=date.fromisoformat(demo["birth_date"][:10]) if demo.get("birth_date") else None,
                   age=int(float(age)) if age not in (None, "", "nan") and not demo.get("birth_date") else None,
                   medications=meds, conditions=conditions)
