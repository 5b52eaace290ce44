"""The Engine: knowledge + compiled packs + an executor. Build once, check many profiles."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from mtmrules.engine.compiler import PackCompiler
from mtmrules.engine.fast import FastExecutor
from mtmrules.engine.ir import CompiledRule
from mtmrules.engine.matches import Match, canonical
from mtmrules.engine.naive import NaiveExecutor
from mtmrules.engine.site import SitePolicy
from mtmrules.errors import InputError
from mtmrules.knowledge.facts import FactBuilder, PatientFacts
from mtmrules.knowledge.base import KnowledgeBase
from mtmrules.profile.models import Profile
from mtmrules.adapters.native import profile_from_data
from mtmrules.report.build import ReportBuilder
from mtmrules.report.models import Report

BUILTIN_PACKS = Path(__file__).resolve().parent.parent / "rules"
EXECUTORS = ("fast", "naive", "durable", "vectorized")


def builtin_pack_paths() -> list[Path]:
    return sorted(BUILTIN_PACKS.glob("*.yaml"))


class Engine:
    """Loads knowledge and rule packs once; ``check`` is then safe to call from many threads
    (with the ``fast`` and ``naive`` executors)."""

    def __init__(self, packs: list[str | Path] | None = None, knowledge: KnowledgeBase | str | Path | None = None,
                 executor: str = "fast", site: SitePolicy | str | Path | None = None) -> None:
        self.kb = knowledge if isinstance(knowledge, KnowledgeBase) else KnowledgeBase(knowledge)
        self.facts = FactBuilder(self.kb)
        compiler = PackCompiler(self.kb)
        self.rules: list[CompiledRule] = []
        self.packs: dict[str, str] = {}
        for path in packs if packs is not None else builtin_pack_paths():
            pack, rules = compiler.compile(path)
            if pack.pack in self.packs:
                raise InputError(f"pack {pack.pack!r} is loaded twice", file=str(path))
            self.packs[pack.pack] = pack.version
            self.rules.extend(rules)
        self.site = SitePolicy.load(site) if isinstance(site, (str, Path)) else site
        site_notes: dict[str, str] = {}
        if self.site is not None:
            self.rules, site_notes = self.site.apply(self.rules)
        self.rules_by_id = {r.id: r for r in self.rules}
        self.reporter = ReportBuilder(self.kb, self.rules_by_id, self.packs, self.site, site_notes)
        self._executors: dict[str, Any] = {}
        self.executor = executor
        self._executor(executor)

    @classmethod
    def default(cls, executor: str = "fast", site: SitePolicy | str | Path | None = None) -> "Engine":
        """The built-in packs over the bundled knowledge (with a site policy, if given)."""
        return cls(executor=executor, site=site)

    @classmethod
    def with_packs(cls, extra: list[str | Path], executor: str = "fast",
                   site: SitePolicy | str | Path | None = None) -> "Engine":
        """The built-in packs plus the user's own."""
        return cls(packs=[*builtin_pack_paths(), *extra], executor=executor, site=site)

    def _executor(self, name: str):
        if name not in self._executors:
            if name == "fast":
                self._executors[name] = FastExecutor(self.rules)
            elif name == "naive":
                self._executors[name] = NaiveExecutor(self.rules)
            elif name == "vectorized":
                from mtmrules.engine.vectorized import VectorizedExecutor
                self._executors[name] = VectorizedExecutor(self.rules)
            elif name == "durable":
                from mtmrules.engine.durable import DurableExecutor
                self._executors[name] = DurableExecutor(self.rules)
            else:
                raise InputError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
        return self._executors[name]

    def profile(self, data: dict | Profile) -> Profile:
        return profile_from_data(data)

    def facts_for(self, profile: dict | Profile, as_of: date | None = None) -> PatientFacts:
        return self.facts.build(self.profile(profile), as_of or date.today())

    def match(self, facts: PatientFacts, executor: str | None = None) -> tuple[Match, ...]:
        """The canonical match table for already-built facts (empty for a deceased patient)."""
        if facts.deceased:
            return ()
        return canonical(self._executor(executor or self.executor).run(facts))

    def match_many(self, batch: list[PatientFacts], executor: str | None = None) -> list[tuple[Match, ...]]:
        """Match tables for a batch; the vectorized executor takes the whole batch at once."""
        name = executor or self.executor
        if name != "vectorized":
            return [self.match(facts, name) for facts in batch]
        alive = [f for f in batch if not f.deceased]
        tables = iter(self._executor(name).run_many(alive))
        return [() if f.deceased else canonical(next(tables)) for f in batch]

    def screen(self, source, as_of: date | None = None, workers: int = 1, chunk_size: int = 500):
        """Screen a population — a claims-style fills DataFrame, or a path (Bulk NDJSON folder, profile
        folder, claims CSV/Parquet) — and return one row per problem as a pandas DataFrame."""
        import pandas as pd

        from mtmrules.population.screen import PROBLEM_COLUMNS, screen
        _, problems, _, _ = screen(source, None, as_of or date.today(), self.executor, workers, chunk_size,
                                   progress=False, collect=True, engine=self)
        return pd.DataFrame(problems, columns=PROBLEM_COLUMNS)

    def check(self, profile: dict | Profile, as_of: date | None = None, executor: str | None = None) -> Report:
        """Screen one profile. ``as_of`` defaults to today; pass it for reproducible output."""
        facts = self.facts_for(profile, as_of)
        name = executor or self.executor
        return self.reporter.build(facts, self.match(facts, name), name)
