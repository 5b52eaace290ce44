"""Population screening benchmark on a seeded synthetic FHIR Bulk NDJSON export.

    python benchmarks/screen.py                    # 100,000 patients
    python benchmarks/screen.py --patients 20000 --json

Prints, measured in one run: the floor (read, parse and group the export by patient, nothing
else), `screen` end to end with 1 worker and with 2, patients/s, the ratio to the floor, and the
peak RSS of the screening processes (each run in its own process so the figures do not mix).
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


def floor(folder: str) -> None:
    from mtmrules.adapters.bulk import bulk_groups
    count = sum(1 for _ in bulk_groups(folder))
    print(json.dumps({"patients": count}))


def run_screen(folder: str, out: str, workers: int) -> None:
    from mtmrules import Engine
    from mtmrules.population.screen import screen
    summary = screen(folder, out, AS_OF, workers=workers, progress=False, engine=Engine.default())
    print(json.dumps(summary.to_dict()))


def timed(args: list[str]) -> tuple[float, float, dict]:
    """Run this script in a child process; return seconds, peak RSS (MB) of it and its workers, its JSON."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024, json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--_floor")
    parser.add_argument("--_screen", nargs=3)
    args = parser.parse_args()
    if args._floor:
        floor(args._floor)
        return
    if args._screen:
        run_screen(args._screen[0], args._screen[1], int(args._screen[2]))
        return
    with tempfile.TemporaryDirectory(prefix="mtmrules-screen-") as tmp:
        work = Path(tmp)
        export = work / "export"
        export.mkdir()
        generate(export, args.patients, args.seed)
        floor_s, floor_rss, _ = timed(["--_floor", str(export)])
        one_s, one_rss, one = timed(["--_screen", str(export), str(work / "one.parquet"), "1"])
        two_s, two_rss, _ = timed(["--_screen", str(export), str(work / "two.parquet"), "2"])
    result = {"patients": args.patients, "floor_s": round(floor_s, 2), "screen_1_s": round(one_s, 2),
              "screen_2_s": round(two_s, 2), "patients_per_s": round(args.patients / one_s, 1),
              "ratio_to_floor": round(one_s / floor_s, 2), "peak_rss_mb": round(max(one_rss, two_rss), 1),
              "problems": one["problems"]}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.patients:,} synthetic patients (Bulk NDJSON, ~8 medications, ~4 conditions, a few labs each)")
    print(f"floor (read + parse + group by patient): {result['floor_s']} s")
    print(f"screen, 1 worker: {result['screen_1_s']} s ({result['patients_per_s']:,} patients/s, "
          f"{result['ratio_to_floor']}× the floor)")
    print(f"screen, 2 workers: {result['screen_2_s']} s")
    print(f"peak RSS of a screening process: {result['peak_rss_mb']} MB; {result['problems']:,} problems written")


if __name__ == "__main__":
    main()
