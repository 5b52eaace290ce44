"""The report contract (DESIGN §5.2) as pydantic models; the JSON Schema is generated from them."""

from __future__ import annotations

import json
from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dose(_Out):
    value: float
    unit: str


class MedicationOut(_Out):
    """How one input medication was understood."""

    input: str
    status: str                     # resolved | approximate | unresolved
    active: bool
    ingredients: list[str]
    daily_dose: Dose | None         # for single-ingredient products
    daily_doses: dict[str, Dose]    # per ingredient (combination products too)
    dose_note: str | None = None
    note: str | None = None
    route: str | None = None
    source: str | None = None


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
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, sort_keys=False)
