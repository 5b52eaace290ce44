"""The patient profile: the native input contract (DESIGN §5.1) as pydantic models.

The profile keeps the input exactly as given (free-text names, dose strings); interpretation
(drug resolution, daily dose, renal function) happens later, in :mod:`mtmrules.knowledge.facts`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt field ("medicatons") must never be silently ignored.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Code(_Strict):
    """A coded concept: ``{system: rxnorm, code: "861007"}``."""

    system: Literal["rxnorm", "ndc", "atc", "snomed", "icd10", "loinc"]
    code: str
    display: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class Source(_Strict):
    """Where an item came from (e.g. a FHIR resource), kept for provenance."""

    type: str
    id: str


class Fill(_Strict):
    """One dispensing event."""

    date: dt.date
    days_supply: int = Field(gt=0)
    quantity: float | None = Field(default=None, gt=0)


class Medication(_Strict):
    """One medication as the patient takes it."""

    name: str | None = None
    code: Code | None = None
    dose: str | float | None = None
    frequency: str | None = None
    sig: str | None = None
    route: str | None = None
    form: str | None = None
    prn: bool = False
    status: Literal["active", "stopped"] = "active"
    start_date: dt.date | None = None
    fills: list[Fill] = Field(default_factory=list)
    prescriber: str | None = None
    indication: str | None = None
    source: Source | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: object) -> object:
        # "metformin 500 mg tablet, 2 tabs bid" → name before the comma, sig after it;
        # without a comma the whole line is both ("warfarin 5 mg daily").
        if isinstance(data, str):
            name, _, sig = data.partition(",")
            return {"name": name.strip(), "sig": (sig or data).strip()}
        return data

    @model_validator(mode="after")
    def _named_or_coded(self) -> "Medication":
        if not self.name and self.code is None:
            raise ValueError("a medication needs a name or a code")
        return self

    @property
    def label(self) -> str:
        """The input text to show a pharmacist for this medication."""
        if self.name:
            return self.name
        assert self.code is not None
        return self.code.display or f"{self.code.system}:{self.code.code}"


class Condition(_Strict):
    """A problem-list entry."""

    name: str | None = None
    code: Code | None = None
    status: Literal["active", "resolved"] = "active"
    onset_date: dt.date | None = None
    source: Source | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: object) -> object:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _named_or_coded(self) -> "Condition":
        if not self.name and self.code is None:
            raise ValueError("a condition needs a name or a code")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        assert self.code is not None
        return self.code.display or f"{self.code.system}:{self.code.code}"


class Allergy(_Strict):
    """A recorded allergy or intolerance."""

    substance: str | None = None
    code: Code | None = None
    reaction: str | None = None
    severity: Literal["mild", "moderate", "severe"] | None = None
    type: Literal["allergy", "intolerance"] | None = None
    source: Source | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: object) -> object:
        return {"substance": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _named_or_coded(self) -> "Allergy":
        if not self.substance and self.code is None:
            raise ValueError("an allergy needs a substance or a code")
        return self

    @property
    def label(self) -> str:
        if self.substance:
            return self.substance
        assert self.code is not None
        return self.code.display or f"{self.code.system}:{self.code.code}"


class Lab(_Strict):
    """One lab result or vital sign."""

    name: str | None = None
    loinc: str | None = None
    value: float
    unit: str | None = None
    date: dt.date | None = None
    source: Source | None = None

    @model_validator(mode="after")
    def _named_or_coded(self) -> "Lab":
        if not self.name and not self.loinc:
            raise ValueError("a lab needs a name or a loinc code")
        return self


class ImportIssue(_Strict):
    """Something in the source data (e.g. a FHIR resource) that could not be used, and why."""

    kind: str
    input: str
    reason: str


class Profile(_Strict):
    """A patient profile: demographics, medications, conditions, allergies, labs."""

    id: str
    name: str | None = Field(default=None, description="the patient's name as it should appear on documents they take home")
    age: int | None = Field(default=None, ge=0, le=130)
    birth_date: dt.date | None = None
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    weight_kg: float | None = Field(default=None, gt=0, le=700)
    height_cm: float | None = Field(default=None, gt=0, le=300)
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    medications: list[Medication] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    allergies: list[Allergy] = Field(default_factory=list)
    no_known_allergies: bool = False
    deceased: bool = False
    labs: list[Lab] = Field(default_factory=list)
    import_issues: list[ImportIssue] = Field(default_factory=list, description="filled by input adapters")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    def age_at(self, as_of: dt.date) -> int | None:
        """Age in whole years at ``as_of``: the given age, else computed from the birth date."""
        if self.age is not None:
            return self.age
        if self.birth_date is None:
            return None
        born = self.birth_date
        return as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
