"""The call journal: one row per call and per turn, in SQLite, with a retention limit.

What it keeps (see README, "Personal data"): the start, duration and outcome
of each call, the caller's number as the privacy setting says (`full`,
`truncated` to all but the last two digits, or `none`), and per turn the
transcript, the chosen answer, the score and the latency. No audio. A turn's
action is `answer`, `transfer`, `nomatch`, `clarify` (the bot asked which of
one or two answers the caller meant) or `declined` (the caller's reply: none
of them); a reply that picks one is an `answer` turn. Rows
older than `retention_days` are deleted automatically. A transferred call
also keeps why the dialog handed it over (`transfer_reason`, e.g.
`demande_personne`) and the answer id that led there (`transfer_topic`).

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
  transfer_target TEXT,
  transfer_reason TEXT,
  transfer_topic TEXT
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
# `PRAGMA user_version`. A journal written before versions existed reads 0 and has version 1's tables.
SCHEMA_VERSION = 2
MIGRATIONS = {  # the statements that bring a journal from version n - 1 to n, in one transaction
    2: ("ALTER TABLE calls ADD COLUMN transfer_reason TEXT", "ALTER TABLE calls ADD COLUMN transfer_topic TEXT"),
}
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
        self._upgrade()

    def _upgrade(self) -> None:
        """Create the tables, or bring an older journal up to SCHEMA_VERSION without losing a row."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'calls'").fetchone()
        if exists is None:
            self._db.executescript(SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
            return
        if version > SCHEMA_VERSION:
            # a downgraded callbot: migrations only add columns and inserts name theirs, so keep journaling
            log.warning("journal %s: schema version %d is newer than this callbot's (%d)", self.path, version,
                        SCHEMA_VERSION)
        for step in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
            self._db.executescript("BEGIN; " + "; ".join(MIGRATIONS[step]) + f"; PRAGMA user_version = {step}; COMMIT;")
            log.info("journal %s: schema upgraded to version %d", self.path, step)

    def record(self, call_id: str, started_at: datetime, duration_s: float, outcome: str, caller: str,
               transfer_target: str | None, turns: list[JournalTurn], transfer_reason: str | None = None,
               transfer_topic: str | None = None) -> None:
        """Write one finished call and its turns in one transaction."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("INSERT INTO calls (id, started_at, duration_s, outcome, caller, transfer_target,"
                                 " transfer_reason, transfer_topic) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (call_id, started_at.isoformat(timespec="seconds"), round(duration_s, 1), outcome,
                                  stored_caller(caller, self.caller_privacy), transfer_target, transfer_reason,
                                  transfer_topic))
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
