"""The console's tables, in the journal database: accounts, sessions, audit log, handled items.

The journal (callbot.journal) owns `calls` and `turns`; the console adds its
own `console_*` tables beside them, so that one file holds who did what
(the audit log the RGPD asks for) next to the calls it is about.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  locked_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS console_sessions (
  token_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  created REAL NOT NULL,
  last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS console_audit (
  at TEXT NOT NULL,
  user TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS console_done (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  at TEXT NOT NULL,
  user TEXT NOT NULL,
  PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS console_versions (
  number INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  user TEXT NOT NULL,
  note TEXT NOT NULL
);
"""
ROLES = ("editor", "viewer")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    failures: int
    locked_until: float


@dataclass(frozen=True)
class AuditEntry:
    at: str
    user: str
    action: str
    detail: str


@dataclass(frozen=True)
class VersionEntry:
    number: int
    at: str
    user: str
    note: str


def now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class ConsoleStore:
    """One SQLite connection shared by waitress's threads, one statement at a time."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def execute(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    # -- accounts ----------------------------------------------------------
    def user(self, name: str) -> User | None:
        rows = self.execute("SELECT name, role, password_hash, failures, locked_until FROM console_users WHERE name = ?",
                            (name,))
        return User(*rows[0]) if rows else None

    def put_user(self, name: str, role: str, password_hash: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        self.execute("INSERT INTO console_users (name, role, password_hash) VALUES (?, ?, ?) "
                     "ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, "
                     "failures = 0, locked_until = 0", (name, role, password_hash))

    def set_failures(self, name: str, failures: int, locked_until: float) -> None:
        self.execute("UPDATE console_users SET failures = ?, locked_until = ? WHERE name = ?",
                     (failures, locked_until, name))

    def set_password_hash(self, name: str, password_hash: str) -> None:
        self.execute("UPDATE console_users SET password_hash = ? WHERE name = ?", (password_hash, name))

    # -- sessions ----------------------------------------------------------
    def add_session(self, token_hash: str, user: str, csrf: str, now: float) -> None:
        self.execute("INSERT INTO console_sessions VALUES (?, ?, ?, ?, ?)", (token_hash, user, csrf, now, now))

    def session(self, token_hash: str) -> tuple[str, str, float, float] | None:
        rows = self.execute("SELECT user, csrf, created, last_seen FROM console_sessions WHERE token_hash = ?",
                            (token_hash,))
        return rows[0] if rows else None

    def touch_session(self, token_hash: str, now: float) -> None:
        self.execute("UPDATE console_sessions SET last_seen = ? WHERE token_hash = ?", (now, token_hash))

    def drop_session(self, token_hash: str) -> None:
        self.execute("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))

    def drop_sessions_before(self, created: float, idle_since: float) -> None:
        self.execute("DELETE FROM console_sessions WHERE created < ? OR last_seen < ?", (created, idle_since))

    # -- audit log ---------------------------------------------------------
    def audit(self, user: str, action: str, detail: str = "") -> None:
        self.execute("INSERT INTO console_audit VALUES (?, ?, ?, ?)", (now_text(), user, action, detail))

    def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        return [AuditEntry(*row) for row in
                self.execute("SELECT at, user, action, detail FROM console_audit ORDER BY rowid DESC LIMIT ?", (limit,))]

    # -- handled items (unanswered questions ignored or taught, messages dealt with) --
    def mark_done(self, kind: str, key: str, user: str) -> None:
        self.execute("INSERT OR REPLACE INTO console_done VALUES (?, ?, ?, ?)", (kind, key, now_text(), user))

    def done(self, kind: str) -> dict[str, tuple[str, str]]:
        return {key: (at, user) for key, at, user in
                self.execute("SELECT key, at, user FROM console_done WHERE kind = ?", (kind,))}

    def forget_done(self, kind: str, key: str) -> None:
        self.execute("DELETE FROM console_done WHERE kind = ? AND key = ?", (kind, key))

    # -- published versions -------------------------------------------------
    def add_version(self, user: str, note: str) -> int:
        with self._lock:
            cursor = self._db.execute("INSERT INTO console_versions (at, user, note) VALUES (?, ?, ?)",
                                      (now_text(), user, note))
            number = cursor.lastrowid
            assert number is not None  # set by every INSERT
            return number

    def versions(self) -> list[VersionEntry]:
        return [VersionEntry(*row) for row in
                self.execute("SELECT number, at, user, note FROM console_versions ORDER BY number DESC")]

    def close(self) -> None:
        with self._lock:
            self._db.close()
