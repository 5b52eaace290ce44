"""The Engine: knowledge + compiled packs + an executor. Build once, check many profiles."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Any, Union

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

#: What :meth:`Engine.check` accepts for one patient.
ProfileInput = Union[dict, Profile, list, str, Path]

BUILTIN_PACKS = Path(__file__).resolve().parent.parent / "rules"
EXECUTORS = ("fast", "naive", "durable", "columnar")


def builtin_pack_paths() -> list[Path]:
    return sorted(BUILTIN_PACKS.glob("*.yaml"))


def expand_pack_paths(paths: list[str | Path]) -> list[Path]:
    """Pack files as given; a folder stands for every ``*.yaml`` / ``*.yml`` pack in it (sorted)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
            if not found:
                raise InputError("folder holds no .yaml rule packs", file=str(path))
            out += found
        else:
            out.append(path)
    return out


def as_of_date(value: Any) -> date:
    """The evaluation date from a ``date``, a ``datetime`` (its date) or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return date(value.year, value.month, value.day)   # a date subclass compares like a date
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"as_of: expected a datetime.date or a YYYY-MM-DD string (got {value!r:.40})")


def _matches_prefix(rule_id: str, prefix: str) -> bool:
    """``interactions/ddi-`` and ``ddi-`` both select ``interactions/ddi-warfarin-nsaid``."""
    return rule_id.startswith(prefix) or rule_id.split("/", 1)[1].startswith(prefix)


def _per_living(batch: list[PatientFacts], run_many, deceased_result) -> list:
    """``run_many`` over the living patients of ``batch``, its results back in batch order; a deceased
    patient gets ``deceased_result`` (no rule is run for them, as ``Engine.match`` does)."""
    results = iter(run_many([f for f in batch if not f.deceased]))
    return [deceased_result if f.deceased else next(results) for f in batch]


class Engine:
    """Loads knowledge and rule packs once; ``check`` is then safe to call from many threads
    (with the ``fast`` and ``naive`` executors)."""

    def __init__(self, packs: list[str | Path] | None = None, knowledge: KnowledgeBase | str | Path | None = None,
                 executor: str = "fast", site: SitePolicy | str | Path | None = None,
                 select: list[str] | None = None, ignore: list[str] | None = None) -> None:
        """``packs``: pack files or folders (default: the built-in packs); ``select`` / ``ignore``: rule-id
        prefixes to keep / leave out, like ruff's (``interactions/``, ``ddi-warfarin``)."""
        self.kb = knowledge if isinstance(knowledge, KnowledgeBase) else KnowledgeBase(knowledge)
        self.facts = FactBuilder(self.kb)
        compiler = PackCompiler(self.kb)
        self.rules: list[CompiledRule] = []
        self.packs: dict[str, str] = {}
        for path in expand_pack_paths(packs) if packs is not None else builtin_pack_paths():
            pack, rules = compiler.compile(path)
            if pack.pack in self.packs:
                raise InputError(f"pack {pack.pack!r} is loaded twice", file=str(path))
            self.packs[pack.pack] = pack.version
            self.rules.extend(rules)
        self.site = SitePolicy.load(site) if isinstance(site, (str, Path)) else site
        site_notes: dict[str, str] = {}
        if self.site is not None:
            self.rules, site_notes = self.site.apply(self.rules)
        for option, prefixes in (("select", select), ("ignore", ignore)):
            for prefix in prefixes or ():
                if not any(_matches_prefix(r.id, prefix) for r in self.rules):
                    raise InputError(f"--{option} {prefix}: no rule id starts with this")
        if select:
            self.rules = [r for r in self.rules if any(_matches_prefix(r.id, p) for p in select)]
        if ignore:
            self.rules = [r for r in self.rules if not any(_matches_prefix(r.id, p) for p in ignore)]
        self.rules_by_id = {r.id: r for r in self.rules}
        self.sources = compiler.sources   # knowledge/sources.yaml plus the packs' own bibliographies
        self.reporter = ReportBuilder(self.kb, self.rules_by_id, self.packs, self.site, site_notes, self.sources)
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
        return cls(packs=[*builtin_pack_paths(), *expand_pack_paths(extra)], executor=executor, site=site)

    def _executor(self, name: str):
        if name not in self._executors:
            if name == "fast":
                self._executors[name] = FastExecutor(self.rules)
            elif name == "naive":
                self._executors[name] = NaiveExecutor(self.rules)
            elif name == "columnar":
                from mtmrules.engine.columnar import ColumnarExecutor
                self._executors[name] = ColumnarExecutor(self.rules, self._executor("fast"))
            elif name == "durable":
                from mtmrules.engine.durable import DurableExecutor
                self._executors[name] = DurableExecutor(self.rules)
            else:
                raise InputError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
        return self._executors[name]

    def profile(self, data: "ProfileInput") -> Profile:
        """One patient from a native profile mapping, a ``Profile``, a FHIR Bundle, resource or resource
        list, or a path to any file ``mtmrules check`` reads."""
        profiles = self.profiles(data)
        if len(profiles) != 1:
            raise InputError(f"expected one patient, found {len(profiles)}; use check_many for several")
        return profiles[0]

    @staticmethod
    def profiles(data: "ProfileInput") -> list[Profile]:
        """Every patient in ``data`` (any shape :meth:`profile` takes)."""
        if isinstance(data, Profile):
            return [data]
        if isinstance(data, (str, Path)):
            from mtmrules.adapters.inputs import read_any
            return list(read_any(data))
        if isinstance(data, dict) and "resourceType" not in data:
            return [profile_from_data(data)]
        from mtmrules.adapters.inputs import profiles_from_data
        return list(profiles_from_data(data, where="<fhir>"))

    def facts_for(self, profile: "ProfileInput", as_of: date | str | None = None) -> PatientFacts:
        return self.facts.build(self.profile(profile), date.today() if as_of is None else as_of_date(as_of))

    def match(self, facts: PatientFacts, executor: str | None = None) -> tuple[Match, ...]:
        """The canonical match table for already-built facts (empty for a deceased patient)."""
        if facts.deceased:
            return ()
        return canonical(self._executor(executor or self.executor).run(facts))

    def match_many(self, batch: list[PatientFacts], executor: str | None = None) -> list[tuple[Match, ...]]:
        """Match tables for a batch; the columnar executor takes the whole batch at once."""
        name = executor or self.executor
        if name != "columnar":
            return [self.match(facts, name) for facts in batch]
        return [canonical(table) for table in _per_living(batch, self._executor(name).run_many, ())]

    def screen_matches(self, batch: list[PatientFacts],
                       executor: str | None = None) -> list[tuple[tuple[Match, ...], int]]:
        """What a screening row shows of each patient: its fired match rows (canonical order) and how
        many rules were not evaluated. The columnar executor counts the latter without building them,
        and reads most fired rows from its columns: their rule, bindings and modifier are ``fast``'s,
        their evidence may be left empty (screening never shows it; ``match_many`` gives full rows)."""
        name = executor or self.executor
        if name != "columnar":
            return [(tuple(m for m in table if m.state == "fired"), sum(m.state == "not_evaluated" for m in table))
                    for table in self.match_many(batch, name)]
        return [(canonical(fired), count)
                for fired, count in _per_living(batch, self._executor(name).screen_many, ((), 0))]

    def screen(self, source, as_of: date | str | None = None, workers: int = 1, chunk_size: int | None = None):
        """Screen a population — a claims-style fills DataFrame, or a path (Bulk NDJSON folder, profile
        folder, claims CSV/Parquet) — and return a :class:`~mtmrules.population.screen.Screening`:
        ``.problems`` (one row per problem), ``.summary`` (one row per patient), ``.errors`` (one row per
        rejected record) as pandas DataFrames, and ``.totals``."""
        from mtmrules.population.screen import Screening, screen
        when = date.today() if as_of is None else as_of_date(as_of)
        totals, problems, summary, errors = screen(source, None, when, self.executor, workers, chunk_size,
                                                   progress=False, collect=True, engine=self)
        return Screening.from_rows(totals, problems, summary, errors)

    def check(self, profile: "ProfileInput", as_of: date | str | None = None, executor: str | None = None) -> Report:
        """Screen one patient: a native profile mapping, a ``Profile``, a FHIR Bundle / resource list, or a
        path. ``as_of`` defaults to today; pass it for reproducible output."""
        facts = self.facts_for(profile, as_of)
        name = executor or self.executor
        return self.reporter.build(facts, self.match(facts, name), name)

    def check_many(self, profiles: "Iterable[ProfileInput]", as_of: date | str | None = None,
                   executor: str | None = None) -> Iterator[Report]:
        """Screen many inputs lazily, one report per patient (a Bundle or folder may hold several)."""
        when = date.today() if as_of is None else as_of_date(as_of)
        items = [profiles] if isinstance(profiles, (str, Path)) else profiles
        for item in items:
            for profile in self.profiles(item):
                yield self.check(profile, when, executor)
