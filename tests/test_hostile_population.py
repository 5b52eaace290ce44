"""Bulk and claims screening with hostile records: an errors row for every skipped line or row, the
run never aborts, patients and records counted apart (read = screened + rejected)."""

import csv
import json
import shutil

from mtmrules.population.screen import ERROR_COLUMNS, screen

from conftest import AS_OF, SHARED


def rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_skipped_bulk_line_has_an_errors_row(tmp_path, engine):
    export = tmp_path / "export"
    shutil.copytree(SHARED / "fixtures" / "bulk-fhir-10", export)
    patient = json.loads((export / "Patient.000.ndjson").read_text().splitlines()[0])["id"]
    bad = [
        json.dumps({"resourceType": "Condition", "subject": {"display": "no reference"}, "code": {"text": "gout"}}),
        json.dumps({"resourceType": "Condition", "code": {"text": "gout"}}),
        '{"resourceType": "Condition", "subject": {"reference": "Patient/x"}, "code": {"text": "g\xff"}}',
        '"a string where an object belongs"',
        '{"resourceType": "Condition", "id": "1", "id": "2", "subject": {"reference": "Patient/x"}}',
        '{"resourceType": "Condition", "subject": {"reference": "Patient/x"}, "onsetAge": {"value": NaN}}',
        # a record the adapter must tolerate: strings and lists where objects belong
        json.dumps({"resourceType": "Condition", "subject": {"reference": f"Patient/{patient}"},
                    "code": "diabetes", "clinicalStatus": ["active"], "verificationStatus": "confirmed"}),
    ]
    with open(export / "Condition.000.ndjson", "ab") as handle:
        for line in bad:
            handle.write(line.encode("utf-8", "surrogateescape").replace("\xff".encode(), b"\xff") + b"\n")
    summary = screen(export, tmp_path / "out.csv", AS_OF, progress=False, engine=engine)
    errors = rows(tmp_path / "out.errors.csv")
    assert list(errors[0]) == ERROR_COLUMNS
    assert summary.records_rejected == len(errors) == 6
    assert all(e["file"].endswith("Condition.000.ndjson") and e["line"] for e in errors)
    reasons = " | ".join(e["reason"] for e in errors)
    for words in ("without a patient reference", "not valid UTF-8", "one FHIR resource", "duplicate key", "NaN"):
        assert words in reasons
    assert summary.read == summary.screened + summary.rejected == 13
    summary_rows = {r["patient_id"]: r for r in rows(tmp_path / "out.summary.csv")}
    assert int(summary_rows[patient]["input_errors"]) >= 1   # the tolerated record was still not usable


def test_claims_bad_rows_are_skipped_with_a_row_each(tmp_path, engine):
    fills = tmp_path / "fills.csv"
    fills.write_text("patient_id,drug,fill_date,days_supply\n"
                     "A,warfarin 5 mg tablet,2026-10-01,30\n"
                     "A,ibuprofen 400 mg tablet,2026-13-01,30\n"
                     "A,ibuprofen 400 mg tablet,2026-11-01,nan\n"
                     "A,ibuprofen 400 mg tablet,2026-11-01,-3\n"
                     "B,metformin 500 mg tablet,2026-11-01,30\n")
    patients = tmp_path / "patients.csv"
    patients.write_text("patient_id,birth_date,sex\nA,1940-02-30,F\nB,1950-01-01,M\n")
    summary = screen(fills, tmp_path / "out.csv", AS_OF, patients=str(patients), progress=False, engine=engine)
    errors = rows(tmp_path / "out.errors.csv")
    assert [e["line"] for e in errors[:3]] == ["3", "4", "5"] and all(e["patient_id"] == "A" for e in errors)
    assert any("birth_date" in e["reason"] for e in errors)   # A's patient row is unusable: A is rejected
    assert summary.read == summary.screened + summary.rejected
    assert summary.records_rejected == 3 and summary.rejected == 1 and summary.screened == 1


def test_screen_parquet_needs_only_the_population_extra(tmp_path, engine, monkeypatch):
    import sys
    from mtmrules.errors import InputError
    import pytest
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InputError, match=r"mtmrules\[population\]"):
        screen(SHARED / "fixtures" / "bulk-fhir-10", tmp_path / "o.parquet", AS_OF, progress=False, engine=engine)
