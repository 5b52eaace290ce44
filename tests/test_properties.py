"""Properties that hold for every valid profile (Hypothesis)."""

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import AS_OF

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(rng=st.randoms(use_true_random=False))
def test_no_valid_profile_makes_the_engine_raise_and_output_is_byte_identical(engine, factory, rng):
    profile = factory.profile(rng)
    first = engine.check(profile, as_of=AS_OF).to_json()
    second = engine.check(json.loads(json.dumps(profile)), as_of=AS_OF).to_json()
    assert first == second


def _without_indexes(report: dict) -> dict:
    """The report with input positions removed: what must not depend on input order."""
    return {
        "problems": sorted((p["rule"], p["severity"], tuple(p["medications"]), tuple(sorted(p["conditions"])),
                            p["score"], p["id"]) for p in report["problems"]),
        "not_evaluated": sorted((n["rule"], tuple(sorted(n["reason"].split("; ")))) for n in report["not_evaluated"]),
        "medications": sorted(json.dumps(m, sort_keys=True) for m in report["medications"]),
        "unresolved": sorted(json.dumps(u, sort_keys=True) for u in report["unresolved"]),
    }


@SETTINGS
@given(rng=st.randoms(use_true_random=False), seed=st.integers(0, 2**32 - 1))
def test_shuffling_medications_and_conditions_changes_nothing_but_order(engine, factory, rng, seed):
    profile = factory.profile(rng)
    shuffled = json.loads(json.dumps(profile))
    random.Random(seed).shuffle(shuffled["medications"])
    random.Random(seed + 1).shuffle(shuffled["conditions"])
    a = json.loads(engine.check(profile, as_of=AS_OF).to_json())
    b = json.loads(engine.check(shuffled, as_of=AS_OF).to_json())
    assert _without_indexes(a) == _without_indexes(b)
