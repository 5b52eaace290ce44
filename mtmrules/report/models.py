"""The report contract (DESIGN §5.2) as pydantic models; the JSON Schema is generated from them."""

from __future__ import annotations

import json
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from mtmrules.report.json_text import dumps_indented


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dose(_Out):
    """A daily amount. ``value`` is the maximum as written; ``min`` and ``max`` appear when the sig gives a
    range ("1-2 tabs q4-6h": min 4, max 12 tablets' worth)."""

    value: float
    unit: str
    min: float | None = None
    max: float | None = None

    @model_serializer(mode="wrap")
    def _drop_equal_bounds(self, handler):
        out = handler(self)
        if self.min is None:
            out.pop("min", None)
            out.pop("max", None)
        return out


class MedicationOut(_Out):
    """How one input medication was understood."""

    input: str
    status: str                     # resolved | approximate | unresolved
    active: bool
    ingredients: list[str]
    daily_dose: Dose | None         # for single-ingredient products
    daily_doses: dict[str, Dose]    # per ingredient (combination products too)
    dose_note: str | None = None    # how the dose was read ("read as …"), or why it could not be
    note: str | None = None
    route: str | None = None
    source: str | None = None
    timing: list[str] = Field(default_factory=list)   # anchors from the sig: morning, bedtime, meals, 08:00 …


class ConditionOut(_Out):
    input: str
    groups: list[str]
    source: str | None = None


class Reference(_Out):
    key: str
    citation: str
    url: str | None = None


class InterventionOut(_Out):
    action: str
    target: str | None = None
    to: str
    text: str
    lab: str | None = None


class Reason(_Out):
    """A further finding joined into a problem because it asks for the same action on the same drug."""

    rule: str
    kind: str
    severity: str
    title: str
    explanation: str
    medications: list[str]
    patient_text: str = ""


class Problem(_Out):
    """One ranked medication-related problem."""

    id: str
    rank: int
    score: float
    rule: str
    also_found_by: list[str] = Field(default_factory=list)
    kind: str
    category: str
    severity: str
    action_level: str | None = None
    title: str
    explanation: str
    evidence: list[str]
    medications: list[str]
    conditions: list[str]
    interventions: list[InterventionOut]
    patient_text: str
    references: list[Reference]
    implicated: list[str] = Field(default_factory=list)
    reasons: list[Reason] = Field(default_factory=list)      # the findings listed in also_found_by, rendered
    lead_medications: list[str] = Field(default_factory=list)  # drugs of the leading finding (its interventions)
    rank_factors: list[str] = Field(default_factory=list)    # patient context added to the score, with points
    decision: str | None = None          # proposed | accepted | deferred (from a session file)
    decision_note: str | None = None
    site_note: str | None = None         # how the site policy changed this rule, and why
    not_checked: list[str] = Field(default_factory=list)   # modifiers left unchecked for missing/stale data


class NotEvaluated(_Out):
    rule: str
    reason: str


class Unresolved(_Out):
    input: str
    kind: str = "medication"
    reason: str


class Suppressed(_Out):
    """A problem hidden because a clinician overrode it with a reason (until the date given), or
    because it is below the site policy's minimum severity (no end date)."""

    id: str
    rule: str
    title: str
    reason: str
    until: str | None = None


class SiteRuleOut(_Out):
    rule: str
    reason: str


class SiteOut(_Out):
    """The site policy this report was produced under: where it differs from the published packs."""

    name: str
    min_severity: str | None = None
    disabled: list[SiteRuleOut] = Field(default_factory=list)
    retiered: list[SiteRuleOut] = Field(default_factory=list)


class PatientOut(_Out):
    id: str
    age: int | None
    sex: str
    egfr: float | None = None
    egfr_basis: str | None = None
    crcl: float | None = None
    crcl_basis: str | None = None


class Report(_Out):
    """Everything mtmrules found for one patient."""

    mtmrules_version: str
    as_of: date
    engine: str
    packs: dict[str, str]
    patient: PatientOut
    medications: list[MedicationOut]
    conditions: list[ConditionOut]
    problems: list[Problem]
    not_evaluated: list[NotEvaluated]
    unresolved: list[Unresolved]
    suppressed: list[Suppressed] = Field(default_factory=list)
    site: SiteOut | None = None

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    def to_frame(self):
        """The problems as a pandas DataFrame, one row per problem (patient id and as-of date included;
        list fields such as ``medications`` stay lists)."""
        import pandas as pd
        columns = ["patient_id", "as_of", *Problem.model_fields]
        rows = [{"patient_id": self.patient.id, "as_of": self.as_of, **p.model_dump(mode="json")} for p in self.problems]
        return pd.DataFrame(rows, columns=columns)

    def to_json(self, indent: int | None = 2) -> str:
        """Deterministic JSON: same input and as_of → byte-identical text."""
        if indent == 2:
            return dumps_indented(self.to_dict())
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
