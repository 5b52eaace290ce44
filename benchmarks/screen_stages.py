"""Where screening time goes, per patient, at steady state (caches warm, quiet cycle collector).

    python benchmarks/screen_stages.py                       # 3,000 warm-up + 3,000 measured patients
    python benchmarks/screen_stages.py --warm 6000 --measure 6000 --executor fast

Generates the screening benchmark's synthetic Bulk export (benchmarks/screen.py), screens the warm-up
patients once, then times each stage of ``screen_chunk`` separately on the measured patients, in chunks
of ``--chunk`` with the cycle collector handled as screening does: parse (NDJSON lines → dicts), FHIR → profile, profile → facts, matching, rows
(merging, ranking, titles). Prints µs per patient for each stage and the total. Figures are for one
process on a possibly shared machine: compare stages measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=3000)
    parser.add_argument("--measure", type=int, default=3000)
    parser.add_argument("--chunk", type=int, help="patients per chunk (default: screen's for the executor)")
    parser.add_argument("--executor", default="columnar")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--export", help="an existing export folder (default: generate one)")
    args = parser.parse_args()
    from mtmrules import Engine
    from mtmrules.adapters.bulk import load_line
    from mtmrules.adapters.fhir import profiles_from_resources
    from mtmrules.population import screen as screening
    from screen import AS_OF, generate

    engine = Engine.default()
    args.chunk = args.chunk or (screening.COLUMNAR_CHUNK if args.executor == "columnar" else screening.CHUNK)
    with tempfile.TemporaryDirectory(prefix="mtmrules-stages-") as tmp:
        export = Path(args.export or tmp)
        if not args.export:
            generate(export, args.warm + args.measure, args.seed)
        items = list(itertools.islice(screening.iter_items(str(export), AS_OF, lambda *a, **k: None),
                                      args.warm + args.measure))
    warm, measured = items[:args.warm], items[args.warm:]
    screening._quiet_gc()
    mtm = (screening.CMS_MAX_DISEASES, screening.CMS_MAX_DRUGS)
    for start in range(0, len(warm), args.chunk):
        screening._screen_chunk_settled(warm[start:start + args.chunk], AS_OF, args.executor, mtm, engine)
    spent = dict.fromkeys(("parse", "profile", "facts", "matching", "rows"), 0.0)
    clock = time.perf_counter
    for start in range(0, len(measured), args.chunk):
        chunk = measured[start:start + args.chunk]
        gc.disable()   # as screening runs a chunk (population/screen.py: _screen_chunk_settled)
        t0 = clock()
        parsed = [(pid, [load_line(r) if isinstance(r, bytes) else r for r in lines]) for _, (pid, lines) in chunk]
        t1 = clock()
        profiles = [p for pid, resources in parsed for p in profiles_from_resources(resources, f"Patient/{pid}")]
        t2 = clock()
        facts = [engine.facts.build(profile, AS_OF) for profile in profiles]
        t3 = clock()
        shown = engine.screen_matches(facts, args.executor)
        t4 = clock()
        for patient, (fired, _) in zip(facts, shown):
            engine.reporter.rows(patient, fired)
        t5 = clock()
        gc.enable()
        screening._settle_gc()
        for stage, (a, b) in zip(spent, itertools.pairwise((t0, t1, t2, t3, t4, t5))):
            spent[stage] += b - a
    count = len(measured)
    print(f"{count:,} patients measured after {len(warm):,} warm-up, executor {args.executor}, chunks of {args.chunk}")
    for stage, seconds in spent.items():
        print(f"{stage:<10} {seconds / count * 1e6:8.1f} µs/patient")
    print(f"{'total':<10} {sum(spent.values()) / count * 1e6:8.1f} µs/patient")


if __name__ == "__main__":
    main()
