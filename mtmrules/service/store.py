"""What the service remembers (SQLite, one connection per process in WAL mode behind a lock): the
token ids (``jti``) already used, the card uuids it issued (per hookInstance and caller, for a bounded
time), the feedback it received and who sent it, and overrides with a reason, which suppress the same
problem for that patient for a configurable period. Several server processes may share one file."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from mtmrules.report.models import Report, Suppressed

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS issued_cards (card TEXT PRIMARY KEY, hook_instance TEXT, patient TEXT, problem TEXT, "
    "rule TEXT, iss TEXT, issued REAL)",
    "CREATE INDEX IF NOT EXISTS issued_cards_time ON issued_cards (issued)",
    "CREATE TABLE IF NOT EXISTS feedback (card TEXT, outcome TEXT, outcome_time TEXT, reason TEXT, comment TEXT, "
    "iss TEXT, sub TEXT, received REAL)",
    "CREATE TABLE IF NOT EXISTS seen_tokens (iss TEXT, jti TEXT, until REAL, PRIMARY KEY (iss, jti))",
    "CREATE TABLE IF NOT EXISTS suppressions (patient TEXT, problem TEXT, rule TEXT, reason TEXT, comment TEXT, "
    "created TEXT, until TEXT, PRIMARY KEY (patient, problem))",
]


class SuppressionStore:
    """Issued cards, feedback and overrides with a reason (SQLite)."""

    def __init__(self, path: str | Path = ":memory:", days: int = 90, card_memory_s: float = 7 * 24 * 3600) -> None:
        self.path, self.days, self.card_memory_s = str(path), days, card_memory_s
        self._lock = threading.Lock()
        self._token_count = 0
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA busy_timeout=5000")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            for statement in SCHEMA:
                self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(suppressions)")}
            for column in ("iss", "sub"):       # stores made before feedback recorded its sender
                if column not in columns:
                    self._db.execute(f"ALTER TABLE suppressions ADD COLUMN {column} TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def first_use(self, iss: str, jti: str, until: float) -> bool:
        """Record a token id; False if it was already used (and has not expired): a replay."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._token_count += 1
            if self._token_count % 256 == 0:
                self._db.execute("DELETE FROM seen_tokens WHERE until < ?", (now,))
            fresh = self._db.execute("INSERT INTO seen_tokens VALUES (?, ?, ?) ON CONFLICT (iss, jti) DO UPDATE SET "
                                     "until = excluded.until WHERE seen_tokens.until < ?", (iss, jti, until, now)).rowcount
            self._db.execute("COMMIT")
        return fresh == 1

    def remember_cards(self, hook_instance: str, iss: str | None, rows: list[tuple[str, str, str, str]]) -> None:
        """Remember issued cards: (card uuid, patient, problem id, rule) for this hookInstance and caller."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM issued_cards WHERE issued < ?", (now - self.card_memory_s,))
            self._db.executemany("INSERT OR REPLACE INTO issued_cards VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(card, hook_instance, patient, problem, rule, iss, now)
                                  for card, patient, problem, rule in rows])
            self._db.execute("COMMIT")

    def issued(self, cards: list[str], iss: str | None) -> dict[str, tuple[str, str, str]]:
        """card uuid → (patient, problem, rule) for those of ``cards`` issued to ``iss`` and still remembered."""
        oldest = time.time() - self.card_memory_s
        with self._lock:
            rows = [self._db.execute("SELECT card, patient, problem, rule FROM issued_cards WHERE card = ? AND "
                                     "iss IS ? AND issued >= ?", (card, iss, oldest)).fetchone() for card in cards]
        return {row[0]: row[1:] for row in rows if row}

    def record_feedback(self, items: list[dict], iss: str | None, sub: str | None) -> int:
        """Record checked feedback items (each for a card :meth:`issued` knows) with their sender; an
        override with a reason becomes a suppression. Returns how many suppressions were recorded."""
        known = self.issued([item["card"] for item in items], iss)
        now, count = time.time(), 0
        with self._lock:
            self._db.execute("BEGIN")
            for item in items:
                reason = (item.get("overrideReason") or {}).get("reason") or {}
                comment = (item.get("overrideReason") or {}).get("userComment")
                self._db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (item["card"], item["outcome"], item["outcomeTimestamp"], reason.get("code"), comment,
                                  iss, sub, now))
                if item["outcome"] != "overridden" or not reason or item["card"] not in known:
                    continue
                created = date.fromisoformat(item["outcomeTimestamp"][:10])
                self._db.execute("INSERT OR REPLACE INTO suppressions (patient, problem, rule, reason, comment, created, "
                                 "until, iss, sub) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (*known[item["card"]], reason.get("display") or reason.get("code"), comment,
                                  created.isoformat(), (created + timedelta(days=self.days)).isoformat(), iss, sub))
                count += 1
            self._db.execute("COMMIT")
        return count

    def active(self, patient: str, as_of: date) -> dict[str, tuple[str, str, str]]:
        """problem id → (rule, reason, until) for suppressions still in force at ``as_of``."""
        with self._lock:
            rows = self._db.execute("SELECT problem, rule, reason, until FROM suppressions WHERE patient = ? AND "
                                    "until >= ? AND created <= ?",
                                    (patient, as_of.isoformat(), as_of.isoformat())).fetchall()
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
