"""Differential tests: fast, naive and durable produce identical match tables and reports (Hypothesis).

The naive executor is the executable specification; durable_rules (Rete) is an independent oracle
for every comparison a rule makes. All built-in packs are loaded.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import AS_OF

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(rng=st.randoms(use_true_random=False))
def test_fast_equals_naive(engine, factory, rng):
    facts = engine.facts_for(factory.profile(rng), AS_OF)
    assert engine.match(facts, "fast") == engine.match(facts, "naive")


@SETTINGS
@given(rng=st.randoms(use_true_random=False))
def test_durable_equals_naive(engine, factory, rng):
    pytest.importorskip("durable")
    facts = engine.facts_for(factory.profile(rng), AS_OF)
    assert engine.match(facts, "durable") == engine.match(facts, "naive")


def test_the_generator_exercises_the_rules(engine, factory):
    """Guard against a vacuous differential test: random profiles must fire many distinct rules."""
    import random
    fired, unevaluated = set(), set()
    for seed in range(400):
        for match in engine.match(engine.facts_for(factory.profile(random.Random(seed)), AS_OF)):
            (fired if match.state == "fired" else unevaluated).add(match.rule.split("/")[0] + "/" + match.rule.split("/")[1])
    assert len(fired) >= 25 and len(unevaluated) >= 5


def test_reports_identical_across_executors(engine, factory):
    import importlib.util
    import random
    names = ("fast", "naive", "durable") if importlib.util.find_spec("durable") else ("fast", "naive")
    for seed in range(60):
        profile = factory.profile(random.Random(seed))
        reports = [engine.check(profile, as_of=AS_OF, executor=name).model_dump(exclude={"engine"}) for name in names]
        assert all(report == reports[0] for report in reports[1:]), names


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rngs=st.lists(st.randoms(use_true_random=False), min_size=1, max_size=40))
def test_columnar_states_equal_naive_on_populations(engine, factory, rngs):
    """Rule states computed for a whole population at once equal the per-patient states wherever the
    columns decide them, and the match tables are identical."""
    from mtmrules.engine.matches import canonical
    population = [engine.facts_for(factory.profile(rng, f"p{i}"), AS_OF) for i, rng in enumerate(rngs)]
    columnar = engine._executor("columnar")
    naive = engine._executor("naive")
    states = columnar.states(population)
    code = {"fired": 2, "not_evaluated": 1}
    for i, facts in enumerate(population):
        expected = {m.rule: code[m.state] for m in naive.run(facts)}
        got = {rule.id: int(states[i, r]) for r, rule in enumerate(engine.rules) if states[i, r] in (1, 2)}
        opened = {rule.id for r, rule in enumerate(engine.rules) if states[i, r] == 3}
        assert got == {rule: state for rule, state in expected.items() if rule not in opened}
    for facts, matches in zip(population, columnar.run_many(population)):
        assert canonical(matches) == engine.match(facts, "naive")
