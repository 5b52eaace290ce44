"""What a fully columnar screening path would have to pay, per patient, on the screening benchmark's
export: reading the NDJSON into Arrow tables, and resolving drug names, reading sigs and computing
daily doses once per distinct text with the project's own code.

    python benchmarks/screen_budget.py                 # 20,000 patients
    python benchmarks/screen_budget.py --patients 100000 --export DIR   # DIR: kept, reused when it has one

Prints the floor (read, parse and group by patient, as benchmarks/screen.py measures it), the Arrow
read, the distinct counts and the µs per distinct text and per patient of each resolution step, in
one process with the knowledge base loaded beforehand.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--export", help="keep the generated export in this folder (reused when it has one)")
    args = parser.parse_args()
    import pyarrow.json as pj

    from mtmrules import Engine
    from mtmrules.adapters.bulk import bulk_groups
    from mtmrules.knowledge.sig import daily_dose, read_regimen
    from screen import prepared

    engine = Engine.default()
    with tempfile.TemporaryDirectory(prefix="mtmrules-budget-") as tmp:
        export = prepared(Path(args.export or tmp), args.patients, args.seed)
        start = time.perf_counter()
        count = sum(1 for _ in bulk_groups(export))
        floor = time.perf_counter() - start
        start = time.perf_counter()
        tables = {path.stem.split(".")[0]: pj.read_json(path) for path in sorted(export.glob("*.ndjson"))}
        arrow = time.perf_counter() - start
    statements = tables["MedicationStatement"]
    names = statements.column("medicationCodeableConcept").combine_chunks().field("text").to_pylist()
    sigs = [d[0]["text"] if d else None for d in statements.column("dosage").to_pylist()]
    distinct_names, distinct_sigs = list(dict.fromkeys(names)), list(dict.fromkeys(sigs))
    pairs = list(dict.fromkeys(zip(names, sigs)))
    gc.collect()
    gc.freeze()

    def per_patient(seconds: float) -> str:
        return f"{seconds / count * 1e6:7.1f} µs/patient"

    start = time.perf_counter()
    resolved = {name: engine.facts.resolver.drug(name, None, None, None) for name in distinct_names}
    resolve = time.perf_counter() - start
    start = time.perf_counter()
    readings = {sig: read_regimen(None, None, sig) for sig in distinct_sigs}
    read = time.perf_counter() - start
    start = time.perf_counter()
    for name, sig in pairs:
        res = resolved[name]
        if res.ingredients:
            daily_dose(readings[sig], res.ingredients, res.strengths, res.form, None)
    dose = time.perf_counter() - start
    print(f"{count:,} patients, {len(names):,} medication statements")
    rows = [("floor (read + parse + group)", floor, None), ("Arrow tables (pyarrow.json)", arrow, None),
            (f"{len(distinct_names):,} distinct drug names resolved", resolve, len(distinct_names)),
            (f"{len(distinct_sigs):,} distinct sigs read", read, len(distinct_sigs)),
            (f"{len(pairs):,} distinct (drug, sig) daily doses", dose, len(pairs))]
    for label, seconds, distinct in rows:
        each = f"  ({seconds / distinct * 1e6:.1f} µs each)" if distinct else ""
        print(f"{label:<42} {seconds:6.2f} s  {per_patient(seconds)}{each}")


if __name__ == "__main__":
    main()
