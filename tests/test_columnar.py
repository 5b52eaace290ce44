"""The columnar executor: identical output to ``fast`` (match tables and the three screening tables),
on random populations over the knowledge base with every built-in pack, and on hostile Bulk exports."""

import json
import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtmrules.engine.columnar import F, OPEN, T, U
from mtmrules.engine.matches import canonical
from mtmrules.population.screen import screen

from conftest import AS_OF, SHARED

POPULATION = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@POPULATION
@given(rngs=st.lists(st.randoms(use_true_random=False), min_size=1, max_size=60))
def test_columnar_match_tables_equal_fast_on_populations(engine, factory, rngs):
    population = [engine.facts_for(factory.profile(rng, f"p{i}"), AS_OF) for i, rng in enumerate(rngs)]
    columnar = engine._executor("columnar")
    assert [canonical(m) for m in columnar.run_many(population)] == [engine.match(f, "fast") for f in population]


def test_column_states_are_fasts_wherever_the_columns_decide(engine, factory):
    """Every state the columns decide is the fast executor's (false for the rules fast would not try),
    and they decide nearly every pair: guard against a vacuous executor that leaves everything open."""
    population = [engine.facts_for(factory.profile(random.Random(seed), f"p{seed}"), AS_OF) for seed in range(300)]
    columnar, fast = engine._executor("columnar"), engine._executor("fast")
    code = {None: F, "not_evaluated": U, "fired": T}
    decided = opened = 0
    for facts, row in zip(population, columnar.states(population)):
        ctx = fast.context(facts)
        candidates = set(fast.candidates(ctx))
        assert not row[[r for r in range(len(row)) if r not in candidates]].any()
        for r in candidates:
            if row[r] == OPEN:
                opened += 1
                continue
            match = fast.evaluate(r, ctx)
            assert row[r] == code[match.state if match else None], (facts.patient_id, fast.rules[r].id)
            decided += 1
    assert decided > 1000 and opened < 0.1 * decided


def test_screening_reads_fired_rows_from_the_columns_and_counts_the_rest(engine, factory, monkeypatch):
    """Screening builds no not-evaluated row (it counts them from the states) and runs the closures for
    fewer pairs than are true; its fired rows carry fast's bindings and modifiers, its counts are fast's."""
    population = [engine.facts_for(factory.profile(random.Random(seed), f"p{seed}"), AS_OF) for seed in range(120)]
    columnar = engine._executor("columnar")
    states = columnar.states(population)
    evaluated = []
    real = columnar.fast.evaluate
    monkeypatch.setattr(columnar.fast, "evaluate", lambda r, ctx: evaluated.append(r) or real(r, ctx))
    shown = columnar.screen_many(population)
    assert 0 < len(evaluated) < int((states == T).sum()) and int((states == U).sum()) > 0
    row = lambda m: (m.rule, m.bindings, m.modifier)   # what screening reads of a fired row
    for facts, (fired, not_evaluated) in zip(population, shown):
        table = engine.match(facts, "fast")
        assert [row(m) for m in canonical(fired)] == [row(m) for m in table if m.state == "fired"]
        assert not_evaluated == sum(m.state == "not_evaluated" for m in table)


# --- whole screenings over Bulk NDJSON -------------------------------------------------------------

def _bulk(profiles: list[dict], folder, extra: dict[str, list[str]] | None = None) -> None:
    """Write native profiles as a FHIR Bulk export (the shapes real exports use), plus raw extra lines."""
    lines: dict[str, list[str]] = {t: [] for t in ("Patient", "MedicationStatement", "Condition", "Observation",
                                                    "AllergyIntolerance")}
    for p in profiles:
        pid, ref = p["id"], {"reference": f"Patient/{p['id']}"}
        patient = {"resourceType": "Patient", "id": pid, "gender": p["sex"]}
        if "age" in p:
            patient["birthDate"] = AS_OF.replace(year=AS_OF.year - p["age"], day=1).isoformat()
        lines["Patient"].append(json.dumps(patient))
        for i, med in enumerate(p["medications"]):
            name = med if isinstance(med, str) else med["name"]
            resource = {"resourceType": "MedicationStatement", "id": f"{pid}-m{i}", "subject": ref,
                        "status": "active" if i % 7 else "completed", "medicationCodeableConcept": {"text": name}}
            if isinstance(med, dict):
                sig = " ".join(str(med[k]) for k in ("dose", "frequency") if med.get(k))
                if sig:
                    resource["dosage"] = [{"text": sig}]
                if med.get("start_date"):
                    resource["effectivePeriod"] = {"start": med["start_date"]}
            lines["MedicationStatement"].append(json.dumps(resource))
        for i, cond in enumerate(p["conditions"]):
            lines["Condition"].append(json.dumps({"resourceType": "Condition", "id": f"{pid}-c{i}", "subject": ref,
                                                  "clinicalStatus": {"coding": [{"code": "active"}]},
                                                  "code": {"text": cond}}))
        for i, allergy in enumerate(p.get("allergies", [])):
            lines["AllergyIntolerance"].append(json.dumps({
                "resourceType": "AllergyIntolerance", "id": f"{pid}-a{i}", "patient": ref,
                "code": {"text": allergy["substance"]},
                "reaction": [{"manifestation": [{"text": allergy["reaction"]}]}]}))
        for i, lab in enumerate(p["labs"]):
            quantity = {"value": lab["value"], "unit": lab.get("unit")}
            if i == 2:   # a result reported as a bound (">60")
                quantity["comparator"] = ">"
            resource = {"resourceType": "Observation", "id": f"{pid}-o{i}", "status": "final", "subject": ref,
                        "code": {"text": lab["name"]}, "valueQuantity": quantity}
            if lab.get("date"):
                resource["effectiveDateTime"] = lab["date"]
            lines["Observation"].append(json.dumps(resource))
    for rtype, raw in (extra or {}).items():
        lines.setdefault(rtype, []).extend(raw)
    for rtype, rows in lines.items():
        (folder / f"{rtype}.000.ndjson").write_text("".join(f"{row}\n" for row in rows))


HOSTILE = {
    "Patient": ['{"resourceType": "Patient", "id": "nobirth", "gender": "male"}',      # age unknown
                '{"resourceType": "Patient", "id": "nomeds", "gender": "female", "birthDate": "1940-02-02"}',
                '{"resourceType": "Patient", "id": "future", "birthDate": "2199-01-01"}',
                '{not json', '[1, 2]', '{"resourceType": "Patient"}'],
    "MedicationStatement": [
        '{"resourceType": "MedicationStatement", "id": "x1", "status": "active", "subject": {"reference": '
        '"Patient/nobirth"}, "medicationCodeableConcept": {"text": "quetiapine 300 mg"}, "dosage": [{"text": "daily"}]}',
        '{"resourceType": "MedicationStatement", "id": "x2", "status": "active", "subject": {"reference": '
        '"Patient/nobirth"}, "medicationCodeableConcept": {"text": "Zorblax 10 mg"}}',
        '{"resourceType": "MedicationStatement", "id": "x3", "status": "active", "subject": {"reference": '
        '"Patient/future"}, "medicationCodeableConcept": {"text": "metformin 1000 mg"}, "dosage": [{"text": "bid"}]}',
        '{"resourceType": "MedicationStatement", "id": "x4", "subject": {}}'],
    "Observation": [
        '{"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/future"}, '
        '"code": {"text": "eGFR"}, "effectiveDateTime": "2019-01-01", "valueQuantity": {"value": 22}}',
        '{"resourceType": "Observation", "id": "o2", "status": "final", "subject": {"reference": "Patient/nobirth"}, '
        '"code": {"text": "potassium"}, "valueQuantity": {"value": "high"}}'],
}


def _screen_both(engine, export, tmp_path, **options):
    outputs = []
    for executor in ("fast", "columnar"):
        summary, problems, summaries, errors = screen(export, None, AS_OF, executor, progress=False, collect=True,
                                                      engine=engine, **options)
        outputs.append((summary.to_dict(), problems, summaries, errors))
    return outputs


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 80))
def test_columnar_screening_equals_fast_row_for_row(engine, factory, tmp_path_factory, seed, size):
    rng = random.Random(seed)
    export = tmp_path_factory.mktemp("export")
    profiles = [factory.profile(rng, f"p{i}", AS_OF) for i in range(size)]
    for profile in profiles[::5]:   # some recent starts and stale labs
        for med in profile["medications"][:1]:
            if isinstance(med, dict):
                med["start_date"] = (AS_OF - timedelta(days=rng.randint(0, 200))).isoformat()
    _bulk(profiles, export, HOSTILE)
    fast, columnar = _screen_both(engine, export, tmp_path_factory, chunk_size=rng.randint(1, 40))
    assert columnar == fast
    assert fast[3], "the hostile lines must reach the errors table"


@pytest.mark.parametrize("fixture", ["bulk-fhir-10", "synthea-r4"])
def test_columnar_screening_equals_fast_on_fixtures(engine, tmp_path, fixture):
    fast, columnar = _screen_both(engine, SHARED / "fixtures" / fixture, tmp_path)
    assert columnar == fast and fast[1]


def test_two_columnar_workers_write_the_same_files_as_fast(engine, tmp_path):
    folder = SHARED / "fixtures" / "synthea-r4"
    screen(folder, tmp_path / "fast.csv", AS_OF, "fast", progress=False, engine=engine)
    screen(folder, tmp_path / "col.csv", AS_OF, "columnar", workers=2, chunk_size=7, progress=False, engine=engine)
    for suffix in (".csv", ".summary.csv", ".errors.csv"):
        assert (tmp_path / f"fast{suffix}").read_text() == (tmp_path / f"col{suffix}").read_text()


def test_batches_skip_deceased_patients_and_keep_batch_order(engine, factory):
    """A deceased patient in a columnar batch gets no match rows and no not-evaluated count (as
    ``Engine.match`` gives), and the living patients around it keep their own rows, in batch order."""
    profiles = [factory.profile(random.Random(seed), f"p{seed}") for seed in range(6)]
    for profile in profiles[1::2]:
        profile["deceased"] = True
    batch = [engine.facts_for(p, AS_OF) for p in profiles]
    fast_tables = [engine.match(f, "fast") for f in batch]
    assert not any(fast_tables[1::2]) and sum(map(bool, fast_tables[0::2])) >= 2
    assert engine.match_many(batch, "columnar") == fast_tables
    def shown(fired):   # screening's fired rows may leave evidence out: compare what a row shows
        return tuple((m.rule, m.bindings, m.modifier) for m in fired)
    assert [(shown(fired), n) for fired, n in engine.screen_matches(batch, "columnar")] == [
        (shown(m for m in t if m.state == "fired"), sum(m.state == "not_evaluated" for m in t)) for t in fast_tables]
