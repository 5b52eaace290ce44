"""Population screening: inputs, bad records, workers, DataFrame API and the Dask adapter."""

import csv
import shutil

import pandas as pd
import pytest

from mtmrules.population.screen import PROBLEM_COLUMNS, screen

from conftest import AS_OF, SHARED

FILLS = """patient_id,drug,rxnorm,fill_date,days_supply,quantity
A1,warfarin 5 mg tablet,,2026-09-01,90,90
A1,ibuprofen 400 mg tablet,,2026-11-01,30,90
A1,atorvastatin 40 mg,,2026-07-01,30,30
A1,atorvastatin 40 mg,,2026-10-01,30,30
B2,lisinopril 10 MG Oral Tablet,314076,2026-10-15,30,30
B2,metformin 500 mg tablet,,2026-10-15,30,60
C3,simvastatin 40 mg,,2026-10-01,notanumber,30
D4,Foo 10 mg,,2026-10-01,30,30
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_claims_table_screen_with_side_tables(tmp_path, engine):
    fills = write(tmp_path, "fills.csv", FILLS)
    dx = write(tmp_path, "dx.csv", "patient_id,icd10,description\nA1,I48.91,atrial fibrillation\nB2,E11.9,type 2 diabetes\n")
    pts = write(tmp_path, "patients.csv", "patient_id,birth_date,sex\nA1,1946-01-01,F\nB2,1960-05-05,M\n")
    summary = screen(fills, tmp_path / "out.csv", AS_OF, diagnoses=str(dx), patients=str(pts), progress=False, engine=engine)
    # C3's only row is unreadable: the row is skipped with an errors row, the patient is still screened
    assert (summary.read, summary.screened, summary.rejected, summary.records_rejected) == (4, 4, 0, 1)
    problems = read_csv(tmp_path / "out.csv")
    assert list(problems[0]) == PROBLEM_COLUMNS
    a1 = {p["rule"] for p in problems if p["patient_id"] == "A1"}
    assert "interactions/ddi-warfarin-nsaid" in a1 and "adherence/pdc-statins" in a1
    summary_rows = {r["patient_id"]: r for r in read_csv(tmp_path / "out.summary.csv")}
    assert set(summary_rows) == {"A1", "B2", "C3", "D4"}
    assert float(summary_rows["A1"]["cmr_priority"]) > float(summary_rows["B2"]["cmr_priority"])
    assert summary_rows["D4"]["unresolved"] == "1"
    errors = read_csv(tmp_path / "out.errors.csv")
    assert len(errors) == 1 and errors[0]["patient_id"] == "C3" and "days_supply" in errors[0]["reason"]
    assert errors[0]["file"] == str(fills) and errors[0]["line"] == "8"


def test_claims_rows_must_be_contiguous(tmp_path, engine):
    from mtmrules.errors import InputError
    fills = write(tmp_path, "fills.csv", "patient_id,drug,fill_date,days_supply\nA,warfarin,2026-10-01,30\n"
                                         "B,warfarin,2026-10-01,30\nA,aspirin,2026-10-01,30\n")
    with pytest.raises(InputError) as info:
        screen(fills, tmp_path / "o.csv", AS_OF, progress=False, engine=engine)
    assert "not contiguous" in str(info.value) and ":4" in str(info.value)


def test_bulk_export_with_a_bad_line_continues(tmp_path, engine):
    pytest.importorskip("pyarrow", reason="Parquet output needs the 'population' extra")
    export = tmp_path / "export"
    shutil.copytree(SHARED / "fixtures" / "bulk-fhir-10", export)
    with open(export / "Condition.000.ndjson", "a") as handle:
        handle.write("{not json\n")
    summary = screen(export, tmp_path / "out.parquet", AS_OF, progress=False, engine=engine)
    assert summary.screened == summary.read == 13 and summary.rejected == 0 and summary.records_rejected == 1
    errors = read_csv(tmp_path / "out.errors.csv")
    assert errors[0]["file"].endswith("Condition.000.ndjson") and "not valid JSON" in errors[0]["reason"]
    problems = pd.read_parquet(tmp_path / "out.parquet")
    assert list(problems.columns) == PROBLEM_COLUMNS and len(problems) == summary.problems


def test_two_workers_give_the_same_rows(tmp_path, engine):
    folder = SHARED / "fixtures" / "synthea-r4"
    one = screen(folder, tmp_path / "one.csv", AS_OF, workers=1, chunk_size=7, progress=False, engine=engine)
    two = screen(folder, tmp_path / "two.csv", AS_OF, workers=2, chunk_size=7, progress=False, engine=engine)
    assert one.screened == two.screened == 40
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()
    assert (tmp_path / "one.summary.csv").read_text() == (tmp_path / "two.summary.csv").read_text()


def test_engine_screen_dataframe(engine):
    frame = pd.read_csv(pd.io.common.StringIO(FILLS), dtype=str)
    frame = frame[frame.patient_id.isin(["A1", "B2"])]
    problems = engine.screen(frame, as_of=AS_OF).problems
    assert list(problems.columns) == PROBLEM_COLUMNS
    assert "interactions/ddi-warfarin-nsaid" in set(problems.rule)


@pytest.mark.parametrize("executor", ["fast", "columnar"])
def test_dask_local_cluster_matches_single_process(engine, executor):
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    from mtmrules.population.dask import screen as dask_screen
    frame = pd.read_csv(pd.io.common.StringIO(FILLS), dtype=str)
    frame = frame[frame.patient_id != "C3"]
    expected = engine.screen(frame, as_of=AS_OF).problems.sort_values(["patient_id", "rank"]).reset_index(drop=True)
    parts = dd.from_pandas(frame, npartitions=1).shuffle("patient_id", npartitions=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        got = dask_screen(parts, AS_OF, executor).compute()
    got = got.sort_values(["patient_id", "rank"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_summary_counts_cms_core_chronic_diseases_and_mtm_criteria(tmp_path, engine):
    meds = ["lisinopril 10 mg daily", "metformin 500 mg twice daily", "atorvastatin 40 mg daily",
            "tiotropium 18 mcg inhaled daily", "albuterol inhaler 2 puffs as needed", "amlodipine 5 mg daily",
            "sertraline 50 mg daily", "omeprazole 20 mg daily"]
    folder = tmp_path / "profiles"
    folder.mkdir()
    people = {
        "three": ["hypertension", "type 2 diabetes mellitus", "COPD"],       # diabetes via its parent group
        "two": ["hypertension", "hyperlipidemia", "GERD"],                    # GERD is not a core disease
        "same-category": ["osteoarthritis", "osteoporosis", "hypertension"],  # one category, counted once
    }
    for pid, conditions in people.items():
        write(folder, f"{pid}.yaml", f"id: {pid}\nage: 70\nsex: female\nconditions: {conditions}\nmedications: {meds}\n")
    write(folder, "few-drugs.yaml", "id: few-drugs\nage: 70\nsex: female\n"
                                    "conditions: [hypertension, diabetes, asthma]\nmedications: [lisinopril 10 mg daily]\n")

    def summary(**kwargs):
        result = screen(folder, tmp_path / "out.csv", AS_OF, progress=False, engine=engine, **kwargs)
        rows = {r["patient_id"]: r for r in read_csv(tmp_path / "out.summary.csv")}
        return result, {pid: (int(r["cms_chronic_diseases"]), r["meets_mtm_criteria"]) for pid, r in rows.items()}

    result, rows = summary()
    assert rows == {"three": (3, "True"), "two": (2, "False"), "same-category": (2, "False"), "few-drugs": (3, "False")}
    assert result.mtm_eligible == 1
    priorities = [score for score, _ in result.top_priority]
    assert priorities == sorted(priorities, reverse=True) and len(priorities) <= 10
    _, rows = summary(mtm=(2, 8))
    assert rows["two"] == (2, "True") and rows["few-drugs"] == (3, "False")
    from mtmrules.errors import InputError
    with pytest.raises(InputError, match="1-3 chronic diseases"):
        summary(mtm=(4, 8))


def test_every_cms_core_chronic_disease_category_maps_to_condition_groups(kb):
    from mtmrules.population.targeting import MtmTargeting
    targeting = MtmTargeting.from_kb(kb)
    categories = set().union(*targeting.categories.values())
    assert categories == {"alzheimers", "bone-disease-arthritis", "heart-failure", "diabetes", "dyslipidemia",
                          "esrd", "hiv-aids", "hypertension", "mental-health", "respiratory"}


def test_pyspark_example_matches_single_process(engine, tmp_path):
    """examples/pyspark_screen.py, run as a script on a local Spark, gives the single-process rows."""
    import shutil
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    import os
    import subprocess
    import sys

    from conftest import ROOT
    frame = pd.read_csv(pd.io.common.StringIO(FILLS), dtype=str)
    frame = frame[frame.patient_id != "C3"]
    frame.to_parquet(tmp_path / "fills.parquet", index=False)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}   # Spark's Python workers use this interpreter
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "pyspark_screen.py"), str(tmp_path / "fills.parquet"),
                           str(tmp_path / "problems"), AS_OF.isoformat()], capture_output=True, text=True, timeout=600,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = pd.read_parquet(tmp_path / "problems").sort_values(["patient_id", "rank"]).reset_index(drop=True)
    expected = engine.screen(frame, as_of=AS_OF).problems.sort_values(["patient_id", "rank"]).reset_index(drop=True)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(got[PROBLEM_COLUMNS], expected, check_dtype=False)


def test_dask_partition_function_honours_site_policy(tmp_path):
    from mtmrules.population.dask import screen_partition
    from mtmrules.engine.engine import Engine
    policy = write(tmp_path, "site.yaml", "site: S\noverrides:\n  - rule: interactions/*\n    enabled: false\n"
                                          "    reason: interaction checks run in the dispensing system\n")
    frame = pd.read_csv(pd.io.common.StringIO(FILLS), dtype=str)
    frame = frame[frame.patient_id.isin(["A1", "B2"])]
    published = set(screen_partition(frame, AS_OF).rule)
    local = screen_partition(frame, AS_OF, site=str(policy))
    assert any(r.startswith("interactions/") for r in published)
    assert not any(r.startswith("interactions/") for r in local.rule)
    expected = Engine.default(site=policy).screen(frame, as_of=AS_OF).problems
    pd.testing.assert_frame_equal(local.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)


def test_screening_a_population_leaves_no_reference_cycles():
    """Screening freezes what each chunk leaves rather than collecting it (``_settle_gc``), so a reference
    cycle made per patient or per rule would stay in memory: there must be none, from a cold engine
    (rules seen for the first time) as well as a warm one."""
    import gc
    from mtmrules import Engine
    from mtmrules.population.screen import iter_items, screen_chunk
    items = list(iter_items(SHARED / "fixtures" / "synthea-r4", AS_OF, lambda *a, **k: None))
    assert len(items) > 5
    fresh = Engine.default()
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for executor in ("columnar", "fast"):
            rows = screen_chunk(items, AS_OF, executor, engine=fresh)
            assert rows[0] and gc.collect() == 0, executor
    finally:
        if enabled:
            gc.enable()
