"""Medicare Part D MTM targeting from clinical data: how many of the ten CMS core chronic diseases a
patient has (``knowledge/cms_mtm_chronic_diseases.csv``) and whether the disease and drug-count
criteria are met. The third criterion, annual drug cost, needs claims costs and is left to the plan."""

from __future__ import annotations

from dataclasses import dataclass

from mtmrules.errors import InputError
from mtmrules.knowledge.facts import PatientFacts
from mtmrules.knowledge.base import KnowledgeBase

#: the most a plan may require under 42 CFR 423.153(d)(2) (CY2025 on)
CMS_MAX_DISEASES, CMS_MAX_DRUGS = 3, 8


def check_minimums(min_diseases: int, min_drugs: int) -> None:
    if not 1 <= min_diseases <= CMS_MAX_DISEASES or not 1 <= min_drugs <= CMS_MAX_DRUGS:
        raise InputError(f"MTM targeting: a plan may require 1-{CMS_MAX_DISEASES} chronic diseases and "
                         f"1-{CMS_MAX_DRUGS} drugs (got {min_diseases} and {min_drugs})")


@dataclass(frozen=True)
class MtmTargeting:
    categories: dict[str, frozenset[str]]   # condition group → CMS core chronic disease categories
    min_diseases: int = CMS_MAX_DISEASES
    min_drugs: int = CMS_MAX_DRUGS

    @classmethod
    def from_kb(cls, kb: KnowledgeBase, min_diseases: int = CMS_MAX_DISEASES,
                min_drugs: int = CMS_MAX_DRUGS) -> "MtmTargeting":
        check_minimums(min_diseases, min_drugs)
        categories: dict[str, set[str]] = {}
        path = kb.table_path("cms_mtm_chronic_diseases")
        for line, row in kb.table("cms_mtm_chronic_diseases"):
            group = row["condition_group"]
            if group not in kb.conditions:
                raise InputError(f"unknown condition group {group!r}", file=str(path), line=line)
            categories.setdefault(group, set()).add(row["category"])
        return cls({g: frozenset(c) for g, c in categories.items()}, min_diseases, min_drugs)

    def chronic_diseases(self, facts: PatientFacts) -> int:
        """Distinct CMS core chronic disease categories on the patient's problem list."""
        found: set[str] = set()
        for condition in facts.conditions:
            for group in condition.groups:
                if group in self.categories:
                    found |= self.categories[group]
        return len(found)

    def meets_criteria(self, diseases: int, active_drugs: int) -> bool:
        """The disease and drug-count criteria (cost not judged)."""
        return diseases >= self.min_diseases and active_drugs >= self.min_drugs
