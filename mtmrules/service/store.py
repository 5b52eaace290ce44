"""Card overrides remembered per patient and problem (SQLite): a card overridden with a reason
suppresses the same problem for that patient for a configurable period."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from mtmrules.report.models import Report, Suppressed


class SuppressionStore:
    """Overrides with a reason, per patient and problem, until an expiry date (SQLite)."""

    def __init__(self, path: str | Path = ":memory:", days: int = 90) -> None:
        self.path, self.days = str(path), days
        self._memory = sqlite3.connect(":memory:", check_same_thread=False) if self.path == ":memory:" else None
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS cards (card TEXT PRIMARY KEY, patient TEXT, problem TEXT, rule TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS suppressions (patient TEXT, problem TEXT, rule TEXT, reason TEXT, "
                       "comment TEXT, created TEXT, until TEXT, PRIMARY KEY (patient, problem))")

    def _connect(self) -> sqlite3.Connection:
        return self._memory if self._memory is not None else sqlite3.connect(self.path)

    def remember_cards(self, rows: list[tuple[str, str, str, str]]) -> None:
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?)", rows)

    def record_feedback(self, items: list[dict]) -> int:
        """Store overrides that carry a reason; returns how many suppressions were recorded."""
        count = 0
        with self._connect() as db:
            for item in items:
                if item.get("outcome") != "overridden" or not item.get("overrideReason"):
                    continue
                row = db.execute("SELECT patient, problem, rule FROM cards WHERE card = ?", (item.get("card"),)).fetchone()
                if row is None:
                    continue
                stamp = item.get("outcomeTimestamp") or datetime.now(timezone.utc).isoformat()
                created = date.fromisoformat(stamp[:10])
                reason = item["overrideReason"].get("reason") or {}
                db.execute("INSERT OR REPLACE INTO suppressions VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (*row, reason.get("display") or reason.get("code", "overridden"),
                            item["overrideReason"].get("userComment"), created.isoformat(),
                            (created + timedelta(days=self.days)).isoformat()))
                count += 1
        return count

    def active(self, patient: str, as_of: date) -> dict[str, tuple[str, str, str]]:
        """problem id → (rule, reason, until) for suppressions still in force at ``as_of``."""
        with self._connect() as db:
            rows = db.execute("SELECT problem, rule, reason, until FROM suppressions WHERE patient = ? AND until >= ? "
                              "AND created <= ?", (patient, as_of.isoformat(), as_of.isoformat())).fetchall()
        return {problem: (rule, reason, until) for problem, rule, reason, until in rows}


def apply_suppressions(report: Report, store: SuppressionStore | None) -> Report:
    """Move suppressed problems out of ``problems`` into ``suppressed`` (re-ranking the rest)."""
    if store is None:
        return report
    active = store.active(report.patient.id, report.as_of)
    if not active:
        return report
    kept = [p for p in report.problems if p.id not in active]
    for rank, problem in enumerate(kept, 1):
        problem.rank = rank
    report.suppressed += [Suppressed(id=p.id, rule=p.rule, title=p.title, reason=active[p.id][1], until=active[p.id][2])
                          for p in report.problems if p.id in active]
    report.problems = kept
    return report
