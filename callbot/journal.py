"""The call journal: one row per call and per turn, in SQLite, with a retention limit.

What it keeps (see README, "Personal data"): the start, duration and outcome
of each call, the caller's number as the privacy setting says (`full`,
`truncated` to all but the last two digits, or `none`), and per turn the
transcript, the chosen answer, the score and the latency. No audio. A turn's
action is `answer`, `transfer`, `nomatch`, `clarify` (the bot asked which of
one or two answers the caller meant) or `declined` (the caller's reply: none
of them); a reply that picks one is an `answer` turn. Rows
older than `retention_days` are deleted automatically.

SQLite in WAL mode with full synchronisation: a crash or a power cut loses
at most the call being written, never the file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
  id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  duration_s REAL NOT NULL,
  outcome TEXT NOT NULL,
  caller TEXT,
  transfer_target TEXT
);
CREATE TABLE IF NOT EXISTS turns (
  call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  turn INTEGER NOT NULL,
  transcript TEXT NOT NULL,
  action TEXT,
  answer TEXT,
  score REAL,
  latency_ms REAL,
  PRIMARY KEY (call_id, turn)
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);
"""
OUTCOMES = ("answered", "transferred", "message", "abandoned", "error")
CALLER_PRIVACY = ("full", "truncated", "none")


@dataclass(frozen=True)
class JournalTurn:
    transcript: str
    action: str | None
    answer: str | None
    score: float | None
    latency_ms: float | None


def stored_caller(number: str, privacy: str) -> str | None:
    """The caller's number as the privacy setting allows."""
    if privacy == "none" or not number:
        return None
    if privacy == "truncated":
        return number[:-2] + "••" if len(number) > 2 else "••"
    return number


class CallJournal:
    def __init__(self, path: Path, retention_days: int = 30, caller_privacy: str = "truncated"):
        self.path = Path(path)
        self.retention_days = retention_days
        self.caller_privacy = caller_privacy
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # written from the calls' worker threads, one at a time
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def record(self, call_id: str, started_at: datetime, duration_s: float, outcome: str, caller: str,
               transfer_target: str | None, turns: list[JournalTurn]) -> None:
        """Write one finished call and its turns in one transaction."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?)",
                                 (call_id, started_at.isoformat(timespec="seconds"), round(duration_s, 1), outcome,
                                  stored_caller(caller, self.caller_privacy), transfer_target))
                self._db.executemany(
                    "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(call_id, n, t.transcript, t.action, t.answer, t.score, t.latency_ms)
                     for n, t in enumerate(turns, start=1)])
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                raise

    def purge(self, now: datetime | None = None) -> int:
        """Delete calls (and their turns) older than the retention limit; returns how many."""
        limit = ((now or datetime.now()) - timedelta(days=self.retention_days)).isoformat(timespec="seconds")
        with self._lock:
            deleted = self._db.execute("DELETE FROM calls WHERE started_at < ?", (limit,)).rowcount
        if deleted:
            log.info("journal: %d calls older than %d days deleted", deleted, self.retention_days)
        return deleted

    def close(self) -> None:
        with self._lock:
            self._db.close()
