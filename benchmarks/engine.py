"""Engine benchmark: fast vs durable executors on a seeded synthetic population, all built-in packs.

    python benchmarks/engine.py                 # 20,000 patients; durable on the first 2,000
    python benchmarks/engine.py --json          # one JSON object with the headline figures

Profiles and facts are built before timing, so the figures compare the executors themselves.
Both are timed in the same run, back to back, on the same patients: compare the ratio, not the
absolute rates, on a noisy machine. End-to-end ``Engine.check`` (facts + match + report) for the
fast executor is reported as well.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtmrules import Engine  # noqa: E402
from mtmrules.synthetic import ProfileFactory  # noqa: E402

AS_OF = date(2026, 11, 27)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--durable-patients", type=int, default=2_000,
                        help="durable is 1-2 orders of magnitude slower: time it on this many of the same patients")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    engine = Engine.default()
    factory = ProfileFactory(engine.kb, engine.rules)
    rng = random.Random(args.seed)
    profiles = [engine.profile(factory.profile(rng, f"p{i}", AS_OF, n_meds=max(1, int(rng.gauss(8, 2))),
                                               n_conditions=max(0, int(rng.gauss(4, 1.5)))))
                for i in range(args.patients)]
    facts = [engine.facts_for(p, AS_OF) for p in profiles]

    fast = engine._executor("fast")
    latencies = []
    start = time.perf_counter()
    for f in facts:
        t0 = time.perf_counter()
        fast.run(f)
        latencies.append(time.perf_counter() - t0)
    fast_s = time.perf_counter() - start

    durable = engine._executor("durable")
    subset = facts[:args.durable_patients]
    start = time.perf_counter()
    for f in subset:
        durable.run(f)
    durable_s = time.perf_counter() - start

    start = time.perf_counter()
    end_to_end = [engine.check(p, as_of=AS_OF) for p in profiles[:5_000]]
    e2e_s = time.perf_counter() - start

    fast_rate = len(facts) / fast_s
    durable_rate = len(subset) / durable_s
    result = {
        "patients": len(facts), "rules": len(engine.rules),
        "fast_patients_per_s": round(fast_rate, 1),
        "durable_patients_per_s": round(durable_rate, 1),
        "ratio": round(fast_rate / durable_rate, 1),
        "fast_p50_ms": round(statistics.median(latencies) * 1000, 3),
        "fast_p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "durable_patients_timed": len(subset),
        "end_to_end_patients_per_s": round(len(end_to_end) / e2e_s, 1),
        "mean_problems_per_patient": round(sum(len(r.problems) for r in end_to_end) / len(end_to_end), 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['patients']:,} synthetic patients, {result['rules']} compiled rules (all built-in packs)")
    print(f"fast     {result['fast_patients_per_s']:>12,.0f} patients/s   p50 {result['fast_p50_ms']:.3f} ms   "
          f"p99 {result['fast_p99_ms']:.3f} ms")
    print(f"durable  {result['durable_patients_per_s']:>12,.0f} patients/s   (timed on {len(subset):,} of the same patients)")
    print(f"ratio    {result['ratio']:>12,.1f} × (fast / durable, same run)")
    print(f"end to end (facts + match + report, fast): {result['end_to_end_patients_per_s']:,.0f} patients/s, "
          f"{result['mean_problems_per_patient']} problems/patient")


if __name__ == "__main__":
    main()
