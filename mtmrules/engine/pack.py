"""The rule-pack language: pydantic models, the single source of truth for packs and their JSON Schema.

A pack is a YAML file::

    pack: interactions
    version: 2026.11.0
    rules:
      - id: ddi-warfarin-nsaid
        kind: drug-drug-interaction
        severity: major
        when: {all: [{med: {class: vitamin-k-antagonist}, as: anticoagulant},
                     {med: {class: nsaid, route: [oral]}, as: nsaid}]}
        message: "{anticoagulant} with {nsaid} raises the risk of serious bleeding."
        ...

Nothing in a pack is ever executed as code: conditions are data, compiled to the IR in
:mod:`mtmrules.engine.ir` by :mod:`mtmrules.engine.compiler`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal[
    "drug-allergy", "renal-dose", "dose-too-high", "dose-too-low", "drug-drug-interaction",
    "duplicate-therapy", "drug-disease", "age-inappropriate", "untreated-condition", "no-indication",
    "monitoring-gap", "ineffective-therapy", "nonadherence",
]
Category = Literal[
    "unnecessary-drug-therapy", "needs-additional-drug-therapy", "ineffective-drug", "dosage-too-low",
    "adverse-drug-reaction", "dosage-too-high", "nonadherence",
]
Severity = Literal["contraindicated", "major", "moderate", "minor"]

#: Cipolle/Strand/Morley category implied by each kind, unless a rule says otherwise.
DEFAULT_CATEGORY: dict[str, str] = {
    "drug-allergy": "adverse-drug-reaction", "renal-dose": "dosage-too-high",
    "dose-too-high": "dosage-too-high", "dose-too-low": "dosage-too-low",
    "drug-drug-interaction": "adverse-drug-reaction", "duplicate-therapy": "unnecessary-drug-therapy",
    "drug-disease": "adverse-drug-reaction", "age-inappropriate": "adverse-drug-reaction",
    "untreated-condition": "needs-additional-drug-therapy", "no-indication": "unnecessary-drug-therapy",
    "monitoring-gap": "adverse-drug-reaction", "ineffective-therapy": "ineffective-drug",
    "nonadherence": "nonadherence",
}


class _Strict(BaseModel):
    # NaN or ±inf as a bound would make every comparison false: the rule would silently never fire
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


StrOrList = Union[str, list[str]]


class Range(_Strict):
    """Numeric bounds; each bound is explicit about inclusion (gt vs gte, lt vs lte)."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    unit: str | None = Field(default=None, description="mg, mcg, g, unit … (doses only)")

    @model_validator(mode="after")
    def _has_bound(self) -> "Range":
        if all(v is None for v in (self.gt, self.gte, self.lt, self.lte)):
            raise ValueError("give at least one of gt, gte, lt, lte")
        return self


class MedFilter(_Strict):
    """Which active medication ingredients match: by ingredient or class, route, form, dose."""

    ingredient: StrOrList | None = None
    class_: StrOrList | None = Field(default=None, alias="class")
    exclude_ingredient: StrOrList | None = None
    exclude_class: StrOrList | None = None
    route: StrOrList | None = Field(
        default=None, description="only these routes (oral, topical …); a medication with no known route matches")
    exclude_route: StrOrList | None = None
    form: StrOrList | None = None
    exclude_form: StrOrList | None = Field(default=None, description="leave out these dose forms (e.g. lock flush)")
    prn: bool | None = None
    daily_dose: Range | None = Field(default=None, description="this medication's daily amount of the ingredient")
    per_day: Range | None = Field(default=None, description="administrations per day (weekly = 1/7)")
    days_taken: Range | None = Field(
        default=None, description="days since this medication was started (its start date, else its first fill) "
                                  "on the as-of date; unknown when neither is recorded")


class CountSpec(_Strict):
    med: MedFilter
    distinct: Literal["ingredient", "medication"] = "ingredient"
    same_ingredient: bool = Field(default=False, description="count entries per ingredient (same drug twice)")
    gte: int = Field(ge=1)


class TotalSpec(_Strict):
    """Sum over matching ingredients of a measure: the daily dose, or a knowledge score table."""

    med: MedFilter
    measure: str = Field(default="daily_dose", description="daily_dose, or the name of a score table")
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    unit: str | None = None


class ConditionSpec(_Strict):
    group: StrOrList


class AllergyFilter(_Strict):
    """Which recorded allergies count: by reaction text, recorded severity or type."""

    reaction: StrOrList | None = Field(default=None, description="reaction text mentions one of these (e.g. anaphyla)")
    severity: list[Literal["mild", "moderate", "severe"]] | None = None
    type: list[Literal["allergy", "intolerance"]] | None = None


class AllergySpec(AllergyFilter):
    """A recorded allergy that covers any of these ingredients or class members."""

    ingredient: StrOrList | None = None
    class_: StrOrList | None = Field(default=None, alias="class")


class AllergyConflictSpec(AllergyFilter):
    """An active medication whose ingredient is itself covered by a recorded allergy."""

    med: MedFilter = Field(default_factory=MedFilter)


class PatientSpec(_Strict):
    age: Range | None = None
    weight_kg: Range | None = None
    sex: Literal["female", "male"] | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None


class RenalSpec(_Strict):
    egfr: Range | None = None
    crcl: Range | None = None

    @model_validator(mode="after")
    def _one(self) -> "RenalSpec":
        if (self.egfr is None) == (self.crcl is None):
            raise ValueError("give exactly one of egfr or crcl")
        return self


class LabSpec(_Strict):
    test: str
    value: Range | None = None
    within_days: int | None = Field(
        default=None, ge=1, description="required with value: only results this recent count; an older latest "
                                        "result makes the rule 'not evaluated' with that result's date")
    missing_within_days: int | None = Field(
        default=None, ge=1, description="true when there is no result within this many days")

    @model_validator(mode="after")
    def _one(self) -> "LabSpec":
        if (self.value is None) == (self.missing_within_days is None):
            raise ValueError("give exactly one of value or missing_within_days")
        if self.value is not None and self.within_days is None:
            raise ValueError("a lab value test needs within_days: how recent a result the rule accepts "
                             "(a lab is a dated fact; an older one makes the rule 'not evaluated')")
        if self.missing_within_days is not None and self.within_days is not None:
            raise ValueError("within_days goes with value; missing_within_days is already the window")
        return self


class AdherenceSpec(_Strict):
    """Adherence from fill history: the proportion of days covered (PQA method, percent) over the matching
    medications' fills, or the refill gap (days since the last supply ran out), which is per drug."""

    med: MedFilter
    pdc: Range | None = None
    refill_gap_days: Range | None = Field(
        default=None, description="days since the last supply of each matching drug ran out (0 while supplied); "
                                  "one fill is enough; drugs without fills are skipped")
    fills_in_last_year: Range | None = Field(
        default=None, description="number of dispensings (distinct fill dates) of the matching drugs in the "
                                  "365 days up to the as-of date, drugs counted together (e.g. reliever inhalers)")
    per_drug: bool = Field(default=False, description="pdc per ingredient instead of the drugs counted together; "
                                                      "drugs with fewer than two fills are skipped")

    @model_validator(mode="after")
    def _one(self) -> "AdherenceSpec":
        if sum(m is not None for m in (self.pdc, self.refill_gap_days, self.fills_in_last_year)) != 1:
            raise ValueError("give exactly one of pdc, refill_gap_days or fills_in_last_year")
        if self.per_drug and self.pdc is None:
            raise ValueError("per_drug goes with pdc; refill_gap_days is always per drug")
        return self


PREDICATE_KEYS = ("all", "any", "none", "med", "count", "total", "condition", "allergy",
                  "allergy_conflict", "patient", "renal", "lab", "adherence")


class Condition(_Strict):
    """One predicate (exactly one key), optionally bound to a name with ``as``."""

    all: list["Condition"] | None = None
    any: list["Condition"] | None = None
    none: list["Condition"] | None = None
    med: MedFilter | None = None
    count: CountSpec | None = None
    total: TotalSpec | None = None
    condition: ConditionSpec | None = None
    allergy: AllergySpec | None = None
    allergy_conflict: AllergyConflictSpec | None = None
    patient: PatientSpec | None = None
    renal: RenalSpec | None = None
    lab: LabSpec | None = None
    adherence: AdherenceSpec | None = None
    as_: str | None = Field(default=None, alias="as", pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            keys = [k for k in data if k in PREDICATE_KEYS]
            if len(keys) != 1:
                unknown = [k for k in data if k not in PREDICATE_KEYS and k != "as"]
                if unknown:
                    raise ValueError(f"unknown predicate {unknown[0]!r}; expected one of {', '.join(PREDICATE_KEYS)}")
                raise ValueError(f"a condition needs exactly one of {', '.join(PREDICATE_KEYS)} (got {len(keys)})")
        return data

    @property
    def key(self) -> str:
        return next(k for k in PREDICATE_KEYS if getattr(self, k) is not None)


class Modifier(_Strict):
    """A contextual modifier: when it holds, it replaces severity/action (first match wins)."""

    when: Condition
    severity: Severity | None = None
    action_level: str | None = None
    note: str | None = Field(default=None, description="why the modifier applies, shown in the explanation")


class Intervention(_Strict):
    action: Literal["stop", "start", "reduce-dose", "increase-dose", "change-dose", "switch", "monitor",
                    "order-lab", "educate", "taper", "assess", "refer", "document-indication"]
    target: str | None = None
    to: Literal["prescriber", "patient", "pharmacist", "care-team"] = "prescriber"
    text: str
    lab: str | None = None


class RuleTest(_Strict):
    """An embedded test: a small profile and whether the rule must fire, stay silent or be not evaluable."""

    fires: dict[str, Any] | None = None
    silent: dict[str, Any] | None = None
    not_evaluated: dict[str, Any] | None = None
    todo_fires: dict[str, Any] | None = None
    todo_silent: dict[str, Any] | None = None
    as_of: date | None = None
    expect: dict[str, Any] | None = Field(default=None, description="partial match on the problem: severity, medications …")
    if_row: dict[str, StrOrList] | None = Field(
        default=None, description="table-driven rules only: keep this test for rows whose columns equal these values")
    note: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "RuleTest":
        given = [k for k in ("fires", "silent", "not_evaluated", "todo_fires", "todo_silent")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a test has exactly one of fires, silent, not_evaluated, todo_fires, todo_silent")
        return self

    @property
    def expectation(self) -> str:
        return next(k for k in ("fires", "silent", "not_evaluated", "todo_fires", "todo_silent")
                    if getattr(self, k) is not None)

    @property
    def profile(self) -> dict[str, Any]:
        return getattr(self, self.expectation)


class TableSpec(_Strict):
    """Table-driven rule: one concrete rule per row of ``knowledge/<name>.csv``; ``${column}`` is substituted."""

    name: str
    row_id: str = Field(description="template for the row's id suffix, e.g. '${ingredient}'")
    where: dict[str, StrOrList] = Field(default_factory=dict, description="keep rows whose column equals one of these")
    where_not: dict[str, StrOrList] = Field(default_factory=dict, description="drop rows whose column equals one of these")
    lists: list[str] = Field(default_factory=list, description="columns whose ';'-separated cell becomes a list "
                                                               "where '${column}' is a whole value (e.g. ingredient lists)")


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    kind: Kind
    category: Category | None = None
    severity: Severity
    when: Condition
    modifiers: list[Modifier] = Field(default_factory=list)
    message: str
    why: str = Field(description="why this matters: the clinical rationale, for docs and the explanation")
    interventions: list[Intervention] = Field(min_length=1)
    patient_text: str
    references: list[str] = Field(min_length=1)
    table: TableSpec | None = None
    tests: list[RuleTest] = Field(default_factory=list)
    status: Literal["active", "draft"] = "active"
    basis: Literal["specific", "mechanism"] = Field(
        default="specific", description="mechanism: a finding of a table-driven mechanism template; a specific "
                                        "rule about the same drugs wins over it in the report (docs/interactions.md)")
    mechanism: list[str] = Field(
        default_factory=list, description="pathways or effects the rule is about (cyp3a4, qt, bleeding …): a "
                                          "mechanism template fills it from its row; a specific rule that names "
                                          "them takes in only mechanism findings about the same ones")

    @field_validator("references")
    @classmethod
    def _unique(cls, refs: list[str]) -> list[str]:
        return list(dict.fromkeys(refs))


class PackSource(_Strict):
    """A bibliography entry a site or user pack declares for its own rules' ``references``."""

    citation: str = Field(min_length=1)
    url: str | None = None
    licence: str | None = None
    kind: str | None = None


class Pack(_Strict):
    """A rule pack: one YAML file of rules sharing a name and version."""

    pack: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str
    title: str | None = None
    description: str | None = None
    sources: dict[str, PackSource] = Field(
        default_factory=dict, description="the pack's own bibliography: key → citation, url, licence, kind; "
                                          "its rules may cite these keys beside those in knowledge/sources.yaml")
    rules: list[Rule]
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"title": "mtmrules rule pack"})


Condition.model_rebuild()
