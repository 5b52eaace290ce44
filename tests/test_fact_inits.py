"""The facts and sig-reading dataclasses built for every patient have hand-written ``__init__``s (one
dict assignment instead of the generated frozen ``__init__``'s ``object.__setattr__`` per field). They must
stay the dataclass's own: same parameters in field order, same defaults, every field set."""

import dataclasses
import inspect

import pytest

from mtmrules.knowledge.facts import ConditionFact, LabValue, MedEntry, MedItem, PatientFacts
from mtmrules.knowledge.sig.daily import DailyDose
from mtmrules.knowledge.sig.reading import Clause, DoseReading, Quantity

HAND_WRITTEN = [MedItem, MedEntry, ConditionFact, LabValue, PatientFacts, DailyDose, Quantity, Clause, DoseReading]


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda c: c.__name__)
def test_hand_written_init_takes_the_fields_in_order_with_their_defaults(cls):
    fields = dataclasses.fields(cls)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in fields]
    required = {p.name: object() for p in params if p.default is inspect.Parameter.empty}
    for param, field in zip(params, fields):
        if field.default is not dataclasses.MISSING:
            assert param.default == field.default, field.name
        elif field.default_factory is not dataclasses.MISSING:   # a new value for every object
            first, second = getattr(cls(**required), field.name), getattr(cls(**required), field.name)
            assert first == field.default_factory() and first is not second, field.name
        else:
            assert param.default is inspect.Parameter.empty, field.name


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda c: c.__name__)
def test_hand_written_init_sets_every_field_and_keeps_the_dataclass_behaviour(cls):
    values = {f.name: object() for f in dataclasses.fields(cls)}
    made = cls(**values)
    assert {name: getattr(made, name) for name in values} == values
    assert made == cls(**values) and dataclasses.replace(made) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, dataclasses.fields(cls)[0].name, None)
