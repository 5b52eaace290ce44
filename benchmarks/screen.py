"""Population screening benchmark on a seeded synthetic FHIR Bulk NDJSON export.

    python benchmarks/screen.py                    # 100,000 patients
    python benchmarks/screen.py --patients 20000 --json

Prints, measured in one run: the floor (read, parse and group the export by patient, nothing
else); `screen` with every rule ignored (what is built for each patient whatever the rules: FHIR
import, facts, summary rows — the lower bound of screening through per-patient objects); `screen`
end to end with the columnar executor (1 and 2 workers) and the fast executor (1 worker);
patients/s, each run's ratio to the floor in wall-clock and in CPU time (user + system of the run
and its workers, which another job on the machine disturbs far less), and each run's peak RSS
(the largest of the main process and any worker). Every run is its own process so the figures do
not mix.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
AS_OF = date(2026, 11, 27)


def generate(folder: Path, patients: int, seed: int) -> None:
    """Write Patient, MedicationStatement, Condition and Observation NDJSON files."""
    from mtmrules import Engine
    from mtmrules.synthetic import ProfileFactory
    engine = Engine.default()
    factory = ProfileFactory(engine.kb, engine.rules)
    rng = random.Random(seed)
    files = {t: (folder / f"{t}.000.ndjson").open("w") for t in ("Patient", "MedicationStatement", "Condition", "Observation")}
    try:
        for n in range(patients):
            p = factory.profile(rng, f"p{n}", AS_OF, n_meds=max(1, int(rng.gauss(8, 2))), n_conditions=max(0, int(rng.gauss(4, 1.5))))
            pid = p["id"]
            ref = {"reference": f"Patient/{pid}"}
            born = date(AS_OF.year - p.get("age", 60), 6, 1).isoformat()
            files["Patient"].write(json.dumps({"resourceType": "Patient", "id": pid, "gender": p["sex"], "birthDate": born}) + "\n")
            for i, med in enumerate(p["medications"]):
                name = med if isinstance(med, str) else med["name"]
                dosage = {"text": med} if isinstance(med, str) else {
                    "text": " ".join(str(med[k]) for k in ("dose", "frequency") if med.get(k)) or None}
                files["MedicationStatement"].write(json.dumps({
                    "resourceType": "MedicationStatement", "id": f"{pid}-m{i}", "status": "active", "subject": ref,
                    "medicationCodeableConcept": {"text": name}, "dosage": [dosage] if dosage.get("text") else []}) + "\n")
            for i, cond in enumerate(p["conditions"]):
                files["Condition"].write(json.dumps({"resourceType": "Condition", "id": f"{pid}-c{i}", "subject": ref,
                                                     "clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"text": cond}}) + "\n")
            for i, lab in enumerate(p["labs"]):
                files["Observation"].write(json.dumps({
                    "resourceType": "Observation", "id": f"{pid}-o{i}", "status": "final", "subject": ref,
                    "code": {"text": lab["name"]}, "effectiveDateTime": lab.get("date"),
                    "valueQuantity": {"value": lab["value"], "unit": lab.get("unit")}}) + "\n")
    finally:
        for handle in files.values():
            handle.close()


def prepared(export: Path, patients: int, seed: int) -> Path:
    """``export``, with the synthetic export written into it unless it already holds one."""
    export.mkdir(parents=True, exist_ok=True)
    if not any(export.glob("*.ndjson")):
        generate(export, patients, seed)
    return export


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished workers: on a shared machine
    this moves far less than the wall clock when other jobs compete for the cores."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def _peak_mb() -> float:
    """Peak RSS of this process and of its finished workers (Linux reports kB)."""
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def floor(folder: str) -> None:
    from mtmrules.adapters.bulk import bulk_groups
    count = sum(1 for _ in bulk_groups(folder))
    print(json.dumps({"patients": count, "peak_rss_mb": _peak_mb(), "cpu_s": _cpu_s()}))


def run_screen(folder: str, out: str, workers: int, executor: str, chunk: int | None, rules: bool = True) -> None:
    """``rules=False``: an engine with every rule ignored, so that only what is built for every patient
    before and after the rules runs (reading, FHIR import, facts, summary rows): a lower bound of any
    screen through per-patient objects."""
    from mtmrules import Engine
    from mtmrules.population.screen import screen
    engine = Engine() if rules else Engine(ignore=[""])   # "" prefixes every rule id
    summary = screen(folder, out, AS_OF, executor, workers=workers, chunk_size=chunk, progress=False, engine=engine)
    print(json.dumps({**summary.to_dict(), "peak_rss_mb": _peak_mb(), "cpu_s": _cpu_s()}))


def timed(args: list[str]) -> tuple[float, float, dict]:
    """Run this script in a child process; return seconds, its peak RSS (MB, with its workers), its JSON."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return seconds, result["peak_rss_mb"], result


def same_tables(first: Path, second: Path) -> bool:
    """Whether two screenings wrote the same problems, summary and errors tables."""
    import pyarrow.parquet as pq
    return all(pq.read_table(first.with_name(f"{first.stem}{part}.parquet")).equals(
        pq.read_table(second.with_name(f"{second.stem}{part}.parquet"))) for part in ("", ".summary")) and (
        first.with_name(f"{first.stem}.errors.csv").read_bytes() == second.with_name(f"{second.stem}.errors.csv").read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--_floor")
    parser.add_argument("--chunk", type=int, default=0, help="patients per chunk for the columnar runs "
                        "(default: screen's own)")
    parser.add_argument("--export", help="keep the generated export in this folder (reused when it has one)")
    parser.add_argument("--_screen", nargs=5)
    parser.add_argument("--_no_rules", action="store_true")
    args = parser.parse_args()
    if args._floor:
        floor(args._floor)
        return
    if args._screen:
        folder, out, workers, executor, chunk = args._screen
        run_screen(folder, out, int(workers), executor, int(chunk) or None, rules=not args._no_rules)
        return
    with tempfile.TemporaryDirectory(prefix="mtmrules-screen-") as tmp:
        work = Path(tmp)
        export = prepared(Path(args.export) if args.export else work / "export", args.patients, args.seed)
        runs = {"floor": ["--_floor", str(export)],
                "no_rules": ["--_screen", str(export), str(work / "no_rules.parquet"), "1", "columnar", "0", "--_no_rules"]}
        for name, workers, executor, chunk in (("columnar_1", 1, "columnar", args.chunk),
                                               ("columnar_2", 2, "columnar", args.chunk), ("fast_1", 1, "fast", 0)):
            runs[name] = ["--_screen", str(export), str(work / f"{name}.parquet"), str(workers), executor, str(chunk)]
        measured = {name: timed(argv) for name, argv in runs.items()}
        identical = same_tables(work / "columnar_1.parquet", work / "fast_1.parquet") and \
            same_tables(work / "columnar_2.parquet", work / "fast_1.parquet")
    floor_s, floor_cpu = measured["floor"][0], measured["floor"][2]["cpu_s"]
    result = {"patients": args.patients, "floor_s": round(floor_s, 2), "identical_to_fast": identical,
              "problems": measured["fast_1"][2]["problems"]}
    for name, (seconds, rss, out) in measured.items():
        result[name] = {"s": round(seconds, 2), "patients_per_s": round(args.patients / seconds, 1),
                        "ratio_to_floor": round(seconds / floor_s, 2), "cpu_s": round(out["cpu_s"], 2),
                        "cpu_ratio_to_floor": round(out["cpu_s"] / floor_cpu, 2), "peak_rss_mb": round(rss, 1)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.patients:,} synthetic patients (Bulk NDJSON, ~8 medications, ~4 conditions, a few labs each)")
    labels = {"floor": "floor (read + parse + group)", "no_rules": "screen, no rules, 1 worker",
              "columnar_1": "screen columnar, 1 worker",
              "columnar_2": "screen columnar, 2 workers", "fast_1": "screen fast, 1 worker"}
    for name, label in labels.items():
        row = result[name]
        print(f"{label:<30} {row['s']:>8.2f} s  {row['patients_per_s']:>9,.0f} patients/s  "
              f"{row['ratio_to_floor']:>5.2f}× floor  CPU {row['cpu_s']:>8.2f} s ({row['cpu_ratio_to_floor']:>5.2f}×)  "
              f"peak RSS {row['peak_rss_mb']:.0f} MB")
    print(f"columnar output identical to fast: {identical}; {result['problems']:,} problems written")


if __name__ == "__main__":
    main()
