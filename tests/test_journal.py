"""The call journal: what is kept, for how long, and that a crash never corrupts it."""

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

import pytest

from callbot.journal import CallJournal, JournalTurn, stored_caller
from conftest import REPO


def turns():
    return [JournalTurn("les horaires de la mairie", "answer", "horaires_mairie", 0.82, 95.0),
            JournalTurn("le marché de noël", "nomatch", None, 0.31, 80.0)]


def test_a_call_and_its_turns_are_recorded(tmp_path):
    journal = CallJournal(tmp_path / "journal.sqlite3")
    journal.record("c1", datetime(2026, 12, 1, 18, 5), 42.3, "answered", "0612345678", None, turns())
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    assert db.execute("SELECT * FROM calls").fetchall() == [("c1", "2026-12-01T18:05:00", 42.3, "answered",
                                                              "06123456••", None, None, None)]
    assert db.execute("SELECT turn, transcript, action, answer FROM turns ORDER BY turn").fetchall() == [
        (1, "les horaires de la mairie", "answer", "horaires_mairie"), (2, "le marché de noël", "nomatch", None)]


def test_a_transfer_keeps_its_reason_and_topic(tmp_path):
    journal = CallJournal(tmp_path / "journal.sqlite3")
    journal.record("c1", datetime(2026, 12, 5, 23, 10), 20, "transferred", "0612345678", "astreinte", turns(),
                   "urgence", "urgence_astreinte")
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    assert db.execute("SELECT transfer_target, transfer_reason, transfer_topic FROM calls").fetchall() == [
        ("astreinte", "urgence", "urgence_astreinte")]


# The tables as callbot wrote them before the journal had a schema version (user_version 0).
VERSION_1 = """
CREATE TABLE calls (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, duration_s REAL NOT NULL, outcome TEXT NOT NULL,
                    caller TEXT, transfer_target TEXT);
CREATE TABLE turns (call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE, turn INTEGER NOT NULL,
                    transcript TEXT NOT NULL, action TEXT, answer TEXT, score REAL, latency_ms REAL,
                    PRIMARY KEY (call_id, turn));
INSERT INTO calls VALUES ('old', '2026-11-30T09:00:00', 12.0, 'transferred', NULL, 'accueil');
INSERT INTO turns VALUES ('old', 1, 'je voudrais parler à quelqu un', 'transfer', NULL, 0.9, 70.0);
"""


def test_a_journal_from_before_schema_versions_is_upgraded_without_losing_calls(tmp_path):
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_1)
    journal = CallJournal(path)
    journal.record("new", datetime(2026, 12, 1, 9, 0), 5, "transferred", "", "accueil", [], "demande_personne")
    journal.close()
    CallJournal(path).close()  # opening an up-to-date journal again changes nothing
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert db.execute("SELECT id, transfer_target, transfer_reason FROM calls ORDER BY id").fetchall() == [
        ("new", "accueil", "demande_personne"), ("old", "accueil", None)]
    assert db.execute("SELECT transcript FROM turns").fetchall() == [("je voudrais parler à quelqu un",)]


def test_a_journal_from_a_newer_callbot_still_takes_calls(tmp_path, caplog):
    path = tmp_path / "journal.sqlite3"
    CallJournal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 9")
        db.execute("ALTER TABLE calls ADD COLUMN something_newer TEXT")
    journal = CallJournal(path)  # after a downgrade: warn, keep journaling
    journal.record("c1", datetime(2026, 12, 1, 9, 0), 5, "answered", "", None, [])
    assert "schema version 9 is newer" in caplog.text
    assert sqlite3.connect(path).execute("SELECT id, user_version FROM calls, pragma_user_version").fetchall() == [
        ("c1", 9)]


@pytest.mark.parametrize("privacy, stored", [("full", "0612345678"), ("truncated", "06123456••"), ("none", None)])
def test_the_caller_number_follows_the_privacy_setting(privacy, stored):
    assert stored_caller("0612345678", privacy) == stored


def test_calls_older_than_the_retention_are_deleted_with_their_turns(tmp_path):
    journal = CallJournal(tmp_path / "j.sqlite3", retention_days=30)
    journal.record("old", datetime(2026, 10, 1, 9, 0), 10, "abandoned", "", None, turns())
    journal.record("new", datetime(2026, 11, 20, 9, 0), 10, "transferred", "", "accueil", turns())
    assert journal.purge(now=datetime(2026, 11, 26, 12, 0)) == 1
    db = sqlite3.connect(tmp_path / "j.sqlite3")
    assert [r[0] for r in db.execute("SELECT id FROM calls")] == ["new"]
    assert {r[0] for r in db.execute("SELECT call_id FROM turns")} == {"new"}


def test_unknown_outcomes_are_refused(tmp_path):
    with pytest.raises(ValueError):
        CallJournal(tmp_path / "j.sqlite3").record("x", datetime(2026, 1, 1), 1, "lost", "", None, [])


WRITER = """
import sys
from datetime import datetime
sys.path.insert(0, {repo!r})
from callbot.journal import CallJournal, JournalTurn
journal = CallJournal({path!r})
print("ready", flush=True)
n = 0
while True:
    n += 1
    journal.record(f"call{{n}}", datetime(2026, 12, 1, 10, 0), 1.0, "answered", "0612345678", None,
                   [JournalTurn("bonjour " * 40, "answer", "horaires_mairie", 0.9, 50.0)] * 5)
"""


def test_a_killed_process_leaves_a_sound_journal(tmp_path):
    path = tmp_path / "journal.sqlite3"
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(repo=str(REPO), path=str(path))],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    writer.send_signal(signal.SIGKILL)  # no chance to close anything, as in a crash
    writer.wait(10)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    calls = db.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert calls > 0
    orphan_turns = db.execute("SELECT count(*) FROM turns WHERE call_id NOT IN (SELECT id FROM calls)").fetchone()[0]
    assert orphan_turns == 0 and db.execute("SELECT count(*) FROM turns").fetchone()[0] == 5 * calls
