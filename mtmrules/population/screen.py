"""Population screening: stream patients in chunks, screen each chunk (in worker processes if asked),
write one row per problem and a per-patient summary, and report bad records without stopping.

Memory is bounded by the chunk size and the number of chunks in flight (at most two per worker),
not by the population: inputs are streamed (Bulk NDJSON by byte offsets, claims tables in row
chunks, profile folders file by file) and results are appended to the output as they arrive.
"""

from __future__ import annotations

import csv
import gc
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mtmrules.errors import InputError, MtmRulesError
from mtmrules.population.targeting import CMS_MAX_DISEASES, CMS_MAX_DRUGS, MtmTargeting, check_minimums
from mtmrules.profile.models import Profile

PROBLEM_COLUMNS = ["patient_id", "rank", "kind", "category", "severity", "score", "rule", "medications", "title"]
SUMMARY_COLUMNS = ["patient_id", "problems", "contraindicated", "major", "moderate", "minor", "not_evaluated",
                   "unresolved", "input_errors", "active_medications", "cmr_priority", "cms_chronic_diseases",
                   "meets_mtm_criteria"]
#: one row per skipped record (a line, a table row, a file) or rejected patient
ERROR_COLUMNS = ["file", "line", "patient_id", "reason"]
_PRIORITY, _MTM = SUMMARY_COLUMNS.index("cmr_priority"), SUMMARY_COLUMNS.index("meets_mtm_criteria")
#: CMR priority: severity-weighted problem count (who to call first for a Comprehensive Medication Review)
PRIORITY_WEIGHT = {"contraindicated": 10.0, "major": 5.0, "moderate": 2.0, "minor": 0.5}
CHUNK = 500
#: the columnar executor's column work has a fixed cost per chunk (a few numpy passes per distinct rule
#: node), so it takes larger chunks: on the benchmark export its states cost 86 µs/patient in chunks of
#: 1,000 and 67 in chunks of 2,000, and a 20,000-patient screen ~5% less CPU, for ~20 MB more memory
COLUMNAR_CHUNK = 2000


def cmr_priority(severities: Iterable[str], active_meds: int) -> float:
    """Severity-weighted problem count, plus 0.25 per active medication beyond 8 (polypharmacy)."""
    return round(sum(PRIORITY_WEIGHT[s] for s in severities) + max(0, active_meds - 8) * 0.25, 2)


@dataclass
class ScreenSummary:
    """Counts of one run. Patients: ``read`` = ``screened`` + ``rejected``. Records (input lines, table
    rows, files) skipped while reading are counted apart, in ``records_rejected``; each has an errors row."""

    read: int = 0
    screened: int = 0
    rejected: int = 0
    records_rejected: int = 0
    problems: int = 0
    mtm_eligible: int = 0          # patients meeting the MTM disease and drug-count criteria
    #: the highest CMR priorities seen, as [priority, patient id], highest first (ties by id)
    top_priority: list[list] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def note_priorities(self, summaries: list[list], keep: int = 10) -> None:
        ranked = self.top_priority + [[row[_PRIORITY], row[0]] for row in summaries if row[_PRIORITY] > 0]
        self.top_priority = sorted(ranked, key=lambda r: (-r[0], r[1]))[:keep]


@dataclass
class Screening:
    """What :meth:`mtmrules.Engine.screen` returns: the three output tables as DataFrames and the totals."""

    problems: Any        # pandas DataFrame: one row per problem (PROBLEM_COLUMNS)
    summary: Any         # pandas DataFrame: one row per patient screened (SUMMARY_COLUMNS)
    errors: Any          # pandas DataFrame: one row per rejected record (ERROR_COLUMNS)
    totals: ScreenSummary

    @classmethod
    def from_rows(cls, totals: ScreenSummary, problems: list, summary: list, errors: list) -> "Screening":
        import pandas as pd
        return cls(pd.DataFrame(problems, columns=PROBLEM_COLUMNS), pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
                   pd.DataFrame(errors, columns=ERROR_COLUMNS), totals)


# --- per-chunk work (runs in workers) ----------------------------------------------------------

_ENGINE = None
_TARGETING: dict[tuple[int, tuple[int, int]], MtmTargeting] = {}   # (id of the knowledge base, minimums)


def _engine():
    """The engine screening uses in this process: the one ``screen`` was given (forked workers inherit
    it). Population code never builds an engine itself, so it does not import the engine package back."""
    if _ENGINE is None:
        raise RuntimeError("screen_chunk needs an engine: pass engine= or call it through screen()")
    return _ENGINE


def _start_worker() -> None:
    _quiet_gc()


@contextmanager
def _quiet_gc_while():
    """Run with the cycle collector quietened (see ``_quiet_gc``); restore it afterwards."""
    thresholds = gc.get_threshold()
    _quiet_gc()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _quiet_gc() -> None:
    """Screening allocates millions of short-lived objects next to a large, long-lived engine; with
    the default thresholds the cycle collector re-scans the engine over and over (measured: half the
    per-patient time). Freeze what exists now and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _screen_chunk_settled(*args) -> tuple[list[list], list[list], list[list]]:
    """``screen_chunk`` with the automatic cycle collector off, then the collector settled (see
    ``_settle_gc``). A chunk builds its patients' data and lets it go at the end; during the chunk
    nearly everything the young-generation collections scanned was that data, still alive (measured:
    they found nothing to free, and cost ~15% of the CPU time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        result = screen_chunk(*args)
    finally:
        if enabled:
            gc.enable()
    _settle_gc()
    return result


#: chunks between two full collections while screening (see ``_settle_gc``)
FULL_COLLECTION_EVERY = 50
_chunks_since_collection = 0


def _settle_gc() -> None:
    """After a chunk: freeze what it left — mostly new entries of the per-distinct-text caches (drug
    names, sigs, doses) — so that no collection scans them again. Scanning them once per chunk cost
    ~7% of a patient's time (~75 new objects a patient on the benchmark export); left unfrozen, every
    full collection re-scanned all of them (~27% after 30,000 patients). Frozen objects are still freed
    when nothing refers to them; only cyclic garbage would wait, and screening makes none
    (tests/test_population.py checks), so a full collection every ``FULL_COLLECTION_EVERY`` chunks is
    only a bound. ``_quiet_gc_while`` unfreezes at the end."""
    global _chunks_since_collection
    _chunks_since_collection += 1
    if _chunks_since_collection >= FULL_COLLECTION_EVERY:
        _chunks_since_collection = 0
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def _profiles_of(item: tuple[str, Any]) -> list[Profile]:
    kind, data = item
    if kind == "fhir":  # (patient id, resources as dicts or raw NDJSON lines): parsed here, in the worker
        from mtmrules.adapters.bulk import load_line
        from mtmrules.adapters.fhir import profiles_from_resources
        resources = [load_line(r) if isinstance(r, bytes) else r for r in data[1]]
        return profiles_from_resources(resources, f"Patient/{data[0]}")
    return [data if isinstance(data, Profile) else Profile.model_validate(data)]



def screen_chunk(items: list[tuple[str, Any]], as_of: date, executor: str = "fast",
                 mtm: tuple[int, int] = (CMS_MAX_DISEASES, CMS_MAX_DRUGS),
                 engine=None) -> tuple[list[list], list[list], list[list]]:
    """Screen a chunk of ("profile", dict | Profile) / ("fhir", (patient id, resources)) items
    → (problem rows, summary rows, error rows). ``mtm``: the plan's MTM targeting minimums
    (chronic diseases, drugs); ``engine``: default, this process's screening engine."""
    engine = engine or _engine()
    targeting = _TARGETING.get((id(engine.kb), mtm))
    if targeting is None:
        targeting = _TARGETING[(id(engine.kb), mtm)] = MtmTargeting.from_kb(engine.kb, *mtm)
    problems, summaries, errors = [], [], []
    batch, issues = [], []   # facts of the chunk, in order, and each patient's count of unusable input
    for item in items:
        try:
            profiles = _profiles_of(item)
            batch.extend(engine.facts.build(profile, as_of) for profile in profiles)
        except Exception as exc:   # one patient's record never stops the run: it becomes an errors row
            ident = item[1][0] if item[0] == "fhir" else getattr(item[1], "id", None) or _get(item[1], "id")
            reason = str(exc) if isinstance(exc, MtmRulesError) else f"record could not be read ({exc.__class__.__name__})"
            errors.append([getattr(exc, "file", None) or "", getattr(exc, "line", None) or "", ident or "", reason])
            continue
        issues.extend(input_errors(profile) for profile in profiles)
    for facts, (matches, not_evaluated), unusable in zip(batch, engine.screen_matches(batch, executor), issues):
        # the report's ranking and merging, without building the full report objects
        rows = engine.reporter.rows(facts, matches)
        problems.extend(rows)
        severities = [row[4] for row in rows]
        counts = {s: severities.count(s) for s in PRIORITY_WEIGHT}
        active = sum(e.active for e in facts.entries)
        diseases = targeting.chronic_diseases(facts)
        summaries.append([facts.patient_id, len(rows), counts["contraindicated"], counts["major"], counts["moderate"],
                          counts["minor"], not_evaluated, len(facts.unresolved),
                          unusable, active, cmr_priority(severities, active), diseases,
                          targeting.meets_criteria(diseases, active)])
    return problems, summaries, errors


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


def input_errors(profile: Profile) -> int:
    """How many things in this patient's input could not be used (skipped resources, bad values) —
    the per-patient signal that the screen ran on partial data. Resource types mtmrules never reads
    (encounters, claims …) are not errors."""
    return sum(issue.reason != "resource type not used by mtmrules" for issue in profile.import_issues)


# --- input ---------------------------------------------------------------------------------------

#: ``on_error(error, patient id or None, whole_patient=False)``: a skipped record, or (``whole_patient``)
#: a patient the reader could not build at all
OnError = Callable[..., None]


def iter_items(source: Any, as_of: date, on_error: OnError,
               diagnoses: str | None = None, patients: str | None = None) -> Iterator[tuple[str, Any]]:
    """Work items from a Bulk export folder (raw resources per patient), a folder/file of profiles or
    bundles, a claims table, or a DataFrame (profiles)."""
    import pandas as pd
    if not isinstance(source, pd.DataFrame) and Path(source).is_dir() and any(Path(source).glob("*.ndjson")):
        from mtmrules.adapters.bulk import bulk_groups
        for group in bulk_groups(source, on_error, unparsed=True):
            yield "fhir", group
        return
    for profile in iter_profiles(source, as_of, on_error, diagnoses, patients):
        yield "profile", profile


def iter_profiles(source: Any, as_of: date, on_error: OnError,
                  diagnoses: str | None = None, patients: str | None = None) -> Iterator[Profile]:
    """Profiles from a Bulk export folder, a folder/file of profiles or bundles, a claims table, or a DataFrame."""
    import pandas as pd
    if isinstance(source, pd.DataFrame):
        from mtmrules.adapters.claims import _columns, _profile
        frame = source.astype(object).where(source.notna(), "").astype(str)
        cols = _columns(frame, ("patient_id", "fill_date", "days_supply"), "<dataframe>")
        for pid, group in frame.groupby(cols["patient_id"], sort=False):
            rows = [(i + 2, {k: rec[v].strip() for k, v in cols.items()}) for i, rec in enumerate(group.to_dict("records"))]
            try:
                yield _profile(str(pid), rows, [], {}, as_of, "<dataframe>", on_error)
            except InputError as exc:
                on_error(exc, str(pid), whole_patient=True)
        return
    path = Path(source)
    if path.suffix.lower() in (".csv", ".parquet"):
        from mtmrules.adapters.claims import read_claims
        yield from read_claims(path, as_of, diagnoses, patients, on_error)
        return
    if path.is_dir() and any(path.glob("*.ndjson")):
        from mtmrules.adapters.bulk import read_bulk
        yield from read_bulk(path, on_error)
        return
    from mtmrules.adapters.inputs import read_any
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".yaml", ".yml")) if path.is_dir() else [path]
    for file in files:
        try:
            yield from read_any(file)
        except InputError as exc:
            on_error(exc if exc.file else InputError(exc.reason, file=str(file), where=exc.where), None)


def estimate_patients(source: Any) -> int | None:
    """How many patients a screening will read, when that is cheap to know (for the progress bar's
    percentage and ETA): Patient lines of a Bulk export, distinct ids of a DataFrame, files of a
    profile folder. ``None`` when only reading the whole input would tell (claims files)."""
    import pandas as pd
    if isinstance(source, pd.DataFrame):
        column = next((c for c in source.columns if str(c).lower() in ("patient_id", "patient", "member_id")), None)
        return int(source[column].nunique()) if column is not None else None
    path = Path(source)
    if not path.is_dir():
        return None
    patients = sorted(p for p in path.glob("Patient*.ndjson") if p.is_file())   # never a FIFO: it would hang
    if patients:
        total = 0
        for file in patients:
            with file.open("rb") as handle:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        return total
    files = [p for p in path.iterdir() if p.suffix.lower() in (".json", ".yaml", ".yml")]
    return len(files) or None


def _progress_bar():
    """Patients done (of the total when known), patients per second and time left, on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:,.0f} patients/s" if task.speed else "")

    return Progress(TextColumn("screening"), BarColumn(), MofNCompleteColumn(), Rate(), TextColumn("ETA"),
                    TimeRemainingColumn(), transient=True, console=Console(stderr=True))


def _chunks(items: Iterator[tuple[str, Any]], size: int, summary: ScreenSummary) -> Iterator[list]:
    chunk: list = []
    for item in items:
        summary.read += 1
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- output --------------------------------------------------------------------------------------

class _Table:
    """Append-only CSV or Parquet file."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path, self.columns = path, columns
        self.parquet = path.suffix.lower() == ".parquet"
        self._writer = None
        self._handle = None

    def write(self, rows: list[list]) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq
            schema = self._schema()
            columns = zip(*rows) if rows else ([] for _ in self.columns)   # rows → columns, no dict per row
            table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema)], schema=schema)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema)
            if rows:
                self._writer.write_table(table)
        else:
            if self._handle is None:
                self._handle = self.path.open("w", newline="", encoding="utf-8")
                self._writer = csv.writer(self._handle)
                self._writer.writerow(self.columns)
            self._writer.writerows(rows)

    def _schema(self):
        import pyarrow as pa
        types = {"rank": pa.int32(), "score": pa.float64(), "cmr_priority": pa.float64(), "problems": pa.int32(),
                 "contraindicated": pa.int32(), "major": pa.int32(), "moderate": pa.int32(), "minor": pa.int32(),
                 "not_evaluated": pa.int32(), "unresolved": pa.int32(), "active_medications": pa.int32(),
                 "cms_chronic_diseases": pa.int32(), "meets_mtm_criteria": pa.bool_(), "input_errors": pa.int32()}
        return pa.schema([(c, types.get(c, pa.string())) for c in self.columns])

    def close(self) -> None:
        if self._writer is None:
            self.write([])
        if self.parquet and self._writer is not None:
            self._writer.close()
        if self._handle is not None:
            self._handle.close()


def output_paths(out: str | Path) -> dict[str, Path]:
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InputError("--out: expected a .csv or .parquet file name", file=str(out))
    if out.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise InputError("Parquet output needs pyarrow: pip install 'mtmrules[population]'", file=str(out)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    return {"problems": out, "summary": out.with_name(f"{out.stem}.summary{out.suffix}"),
            "errors": out.with_name(f"{out.stem}.errors.csv")}


def screen(source: Any, out: str | Path | None, as_of: date, executor: str = "columnar", workers: int = 1,
           chunk_size: int | None = None, progress: bool | None = None, diagnoses: str | None = None,
           patients: str | None = None, collect: bool = False,
           mtm: tuple[int, int] = (CMS_MAX_DISEASES, CMS_MAX_DRUGS), *, engine):
    """Screen a population. With ``out``, writes the tables and returns a ScreenSummary; with
    ``collect=True``, also returns (summary, problem rows, summary rows, error rows) in memory.
    ``mtm``: the plan's Part D MTM targeting minimums (core chronic diseases, drugs), for the
    summary's ``meets_mtm_criteria``. ``engine``: the Engine to screen with (its packs and site
    policy), e.g. ``Engine.default()``. ``chunk_size``: patients per chunk (default ``CHUNK``, or
    ``COLUMNAR_CHUNK`` with the columnar executor)."""
    global _ENGINE
    check_minimums(*mtm)
    chunk_size = chunk_size or (COLUMNAR_CHUNK if executor == "columnar" else CHUNK)
    if isinstance(source, (str, Path)) and not Path(source).exists():
        raise InputError("file or folder not found", file=str(source))
    summary = ScreenSummary()
    error_rows: list[list] = []
    paths = output_paths(out) if out is not None else {}
    tables = {k: _Table(v, cols) for (k, v), cols in zip(paths.items(), (PROBLEM_COLUMNS, SUMMARY_COLUMNS, ERROR_COLUMNS))} \
        if out is not None else {}
    collected: dict[str, list] = {"problems": [], "summary": [], "errors": []}

    def on_error(error: InputError, patient: str | None = None, whole_patient: bool = False) -> None:
        reason = ": ".join(p for p in (error.where, error.reason) if p)
        error_rows.append([error.file or "", error.line or "", patient or "", reason])
        if whole_patient:   # the reader could not build this patient at all: read, and rejected
            summary.read += 1
            summary.rejected += 1
        else:
            summary.records_rejected += 1

    def emit(result: tuple[list, list, list]) -> None:
        problems, summaries, errors = result
        summary.screened += len(summaries)
        summary.mtm_eligible += sum(row[_MTM] for row in summaries)
        summary.note_priorities(summaries)
        summary.problems += len(problems)
        summary.rejected += len(errors)
        batch = {"problems": problems, "summary": summaries, "errors": errors + error_rows[:]}
        error_rows.clear()
        for key, rows in batch.items():
            if out is not None:
                tables[key].write(rows)
            if collect:
                collected[key].extend(rows)
        if bar is not None:
            bar.update(task, completed=summary.screened + summary.rejected)

    show = sys.stderr.isatty() if progress is None else progress
    bar = task = None
    if show:
        bar = _progress_bar()
        bar.start()
        task = bar.add_task("screen", total=estimate_patients(source))
    previous = _ENGINE
    _ENGINE = engine   # used in this process and inherited by forked workers
    try:
        chunks = _chunks(iter_items(source, as_of, on_error, diagnoses, patients), chunk_size, summary)
        if workers <= 1:
            with _quiet_gc_while():
                for chunk in chunks:
                    emit(_screen_chunk_settled(chunk, as_of, executor, mtm))
        else:
            import multiprocessing as mp
            context = mp.get_context("fork") if sys.platform != "win32" else mp.get_context()
            with context.Pool(workers, initializer=_start_worker) as pool:
                pending = []
                for chunk in chunks:  # at most two chunks per worker in flight: memory stays bounded
                    pending.append(pool.apply_async(_screen_chunk_settled, (chunk, as_of, executor, mtm)))
                    while len(pending) >= 2 * workers:
                        emit(pending.pop(0).get())
                for job in pending:
                    emit(job.get())
        if error_rows:
            emit(([], [], []))
    finally:
        _ENGINE = previous
        if bar is not None:
            bar.stop()
        for table in tables.values():
            table.close()
    summary.outputs = {k: str(v) for k, v in paths.items()}
    if collect:
        return summary, collected["problems"], collected["summary"], collected["errors"]
    return summary
