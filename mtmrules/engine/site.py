"""Site policy: a pharmacy's or health system's local changes to the published packs — switch a rule
off, re-tier its severity, or hide problems below a minimum severity — each with a reason that every
report carries, so a reader can tell where the site differs from what was published.

    site: Acme Pharmacy
    min_severity: moderate            # lower problems are listed under "suppressed", never dropped
    overrides:
      - rule: monitoring/*            # a rule id, or a prefix ending in "*"
        enabled: false
        reason: "Labs are ordered by the clinic's own protocol (P&T, 2026-10)"
      - rule: interactions/ddi-ssri-nsaid
        severity: minor
        reason: "Reviewed by P&T 2026-09: alert only when no PPI (handled by modifier)"
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from mtmrules.engine.ir import CompiledRule
from mtmrules.engine.pack import Severity
from mtmrules.errors import InputError
from mtmrules.yamlsource import Document, load_file

SEVERITY_ORDER = ("minor", "moderate", "major", "contraindicated")


class RuleOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str = Field(min_length=1, description="a rule id (pack/rule or pack/rule/row), or a prefix ending in '*'")
    enabled: bool = True
    severity: Severity | None = Field(default=None, description="the severity this site uses instead")
    reason: str = Field(min_length=3, description="why the site differs from the published pack (shown in reports)")

    def covers(self, rule_id: str) -> bool:
        if self.rule.endswith("*"):
            return rule_id.startswith(self.rule[:-1])
        return rule_id == self.rule or rule_id.startswith(self.rule + "/")   # a table template covers its rows


class SiteContact(BaseModel):
    """Who patients and prescribers contact about the session documents (cover letter, plan, letters)."""

    model_config = ConfigDict(extra="forbid")

    pharmacy: str | None = Field(default=None, description="pharmacy or MTM provider name")
    pharmacist: str | None = Field(default=None, description="pharmacist's name and title, e.g. 'J. Smith, PharmD'")
    phone: str | None = None
    hours: str | None = Field(default=None, description="when to call, e.g. 'Monday to Friday, 9 am to 5 pm'")
    plan_name: str | None = Field(default=None, description="the Part D plan's name, for the cover letter")


class SitePolicy(BaseModel):
    """Local changes to the published packs (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, description="the site's name, shown in every report")
    min_severity: Severity | None = Field(
        default=None, description="problems below this severity are listed under 'suppressed' instead of 'problems'")
    overrides: list[RuleOverride] = Field(default_factory=list)
    contact: SiteContact | None = Field(default=None, description="contact details printed on session documents")
    _doc: Document | None = PrivateAttr(default=None)

    @classmethod
    def load(cls, path: str | Path) -> "SitePolicy":
        doc = load_file(path)
        if not isinstance(doc.data, dict):
            raise doc.error((), "expected a mapping with site, overrides and min_severity")
        try:
            policy = cls.model_validate(doc.data)
        except ValidationError as exc:
            raise doc.validation_error(exc) from None
        policy._doc = doc
        return policy

    def apply(self, rules: list[CompiledRule]) -> tuple[list[CompiledRule], dict[str, str]]:
        """The rules this site runs (severity re-tiered, disabled ones left out) and, per changed
        rule id, the note its problems carry. An override that matches no rule is an error: it is
        almost always a typo that would otherwise silently change nothing."""
        kept, notes = [], {}
        for position, override in enumerate(self.overrides):
            if not any(override.covers(rule.id) for rule in rules):
                raise self._error((("overrides", position, "rule")),
                                  f"no loaded rule matches {override.rule!r} (check the id with 'mtmrules rules')")
        for rule in rules:
            override = next((o for o in reversed(self.overrides) if o.covers(rule.id)), None)   # the last one wins
            if override is None:
                kept.append(rule)
            elif override.enabled:
                if override.severity is not None and override.severity != rule.severity:
                    notes[rule.id] = (f"{self.site}: severity {override.severity} instead of the published "
                                      f"{rule.severity} — {override.reason}")
                    rule = dataclasses.replace(rule, severity=override.severity)
                kept.append(rule)
        return kept, notes

    def disabled(self) -> list[RuleOverride]:
        return [o for o in self.overrides if not o.enabled]

    def below_minimum(self, severity: str) -> bool:
        return self.min_severity is not None and SEVERITY_ORDER.index(severity) < SEVERITY_ORDER.index(self.min_severity)

    def _error(self, loc: tuple, message: str) -> InputError:
        if self._doc is not None:
            return self._doc.error(loc, message)
        return InputError(f"{'.'.join(map(str, loc))}: {message}", file="<site policy>")
