"""The activity report: figures from a synthetic call journal, text and HTML renderings."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sqlite3
import statistics
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from callbot.report import (
    TOP_ANSWERS,
    UNKNOWN_REASON,
    UNKNOWN_TARGET,
    Cluster,
    Report,
    build_report,
    cluster_transcripts,
    render_html,
    render_text,
)

from callbot.journal import SCHEMA as DDL  # the journal's own schema: the report reads what it writes

START, END = date(2026, 11, 30), date(2026, 12, 6)  # Monday to Sunday
CALLS_PER_DAY = [12, 10, 8, 9, 11, 6, 4]  # 60 calls
SCRIPT = "où est le cimetière <script>alert(1)</script>"
UNANSWERED = [
    "le marché de noël c est quand",
    "c est quand le marché de noel",
    "marché de noël date",
    "Le marché de Noël, c'est quand ?",
    "le marché de noël c est quand",
    "le prix de la piscine",
    "quel est le prix de la piscine",
    "le prix de la piscine ?",
    SCRIPT,
    "carte grise",
    "euh",
]
ROTATING_ANSWERS = ["horaires_mairie", "etat_civil", "dechetterie"]


class Journal:
    """Writes a journal with the production schema; remembers the in-period latencies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript(DDL)
        self.latencies: list[float] = []

    def call(self, call_id: str, started_at: str, outcome: str, turns=(), target: str | None = None,
             in_period: bool = True, reason: str | None = None) -> None:
        self.db.execute("INSERT INTO calls (id, started_at, duration_s, outcome, caller, transfer_target,"
                        " transfer_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (call_id, started_at, 42.0, outcome, "06123456••", target, reason))
        for n, (transcript, action, answer, latency) in enumerate(turns, 1):
            self.db.execute("INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (call_id, n, transcript, action, answer, 0.8 if answer else None, latency))
            if latency is not None and in_period:
                self.latencies.append(latency)

    def close(self) -> None:
        self.db.commit()
        self.db.close()


def week_journal(path: Path) -> Journal:
    """60 calls from START to END, plus one call just before and one just after the period.

    Call i happens at 8 h + (i mod 10) (call 0 at midnight, call 59 at 23:59:59);
    its outcome follows j = 7 i mod 60, a permutation of 0..59:
      j < 27 answered with answers, 27-29 answered but with no answer, 30-37
      transferred to 'accueil' (30-33 asked for a person, 34-37 not understood), 38-41 to 'astreinte'
      (emergencies), 42-49 messages, 50-55
      abandoned, 56-59 errors.
    """
    journal = Journal(path)
    days = [START.toordinal() + d for d, n in enumerate(CALLS_PER_DAY) for _ in range(n)]
    unanswered = iter(UNANSWERED)
    for i, ordinal in enumerate(days):
        day = date.fromordinal(ordinal).isoformat()
        started_at = f"{day}T{8 + i % 10:02d}:{i % 60:02d}:07"
        if i == 0:
            started_at = f"{day}T00:00:00"
        if i == len(days) - 1:
            started_at = f"{day}T23:59:59"
        j = i * 7 % 60
        latency = 300.0 + 13.0 * i
        bye = ("au revoir", None, None, None)
        if j < 27:
            turns = [("les horaires", "answer", ROTATING_ANSWERS[j % 3], latency)]
            if j < 6:
                turns.append(("et le samedi", "answer", "horaires_mairie", latency + 50))
            journal.call(f"c{i}", started_at, "answered", turns + [bye])
        elif j < 30:
            journal.call(f"c{i}", started_at, "answered", [(next(unanswered), "nomatch", None, latency), bye])
        elif j < 38:
            journal.call(f"c{i}", started_at, "transferred", [
                ("la cantine", "answer", "cantine", latency),
                ("je voudrais parler à quelqu'un", "transfer", None, latency + 5)], target="accueil",
                reason="demande_personne" if j < 34 else "incompris")
        elif j < 42:
            journal.call(f"c{i}", started_at, "transferred",
                         [("une urgence", "transfer", None, latency)], target="astreinte", reason="urgence")
        elif j < 50:
            journal.call(f"c{i}", started_at, "message", [(next(unanswered), "nomatch", None, latency)])
        elif j < 56:
            silent = {50: [("", "nomatch", None, None)], 51: [("   ", "nomatch", None, None)]}
            journal.call(f"c{i}", started_at, "abandoned", silent.get(j, []))
        else:
            journal.call(f"c{i}", started_at, "error")
    journal.call("before", "2026-11-29T23:59:59", "answered", [
        ("les horaires", "answer", "horaires_mairie", 9999.0),
        ("le marché de noël c est quand", "nomatch", None, 9999.0)], in_period=False)
    journal.call("after", "2026-12-07T00:00:00", "transferred",
                 [("urgence", "transfer", None, 9999.0)], target="accueil", in_period=False, reason="erreur")
    journal.close()
    return journal


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> Journal:
    return week_journal(tmp_path_factory.mktemp("journal") / "calls.sqlite")


@pytest.fixture(scope="module")
def report(journal) -> Report:
    return build_report(journal.path, START, END)


def empty_journal(path: Path) -> Path:
    Journal(path).close()
    return path


# --------------------------------------------------------------------------- figures

def test_totals_and_outcomes(report):
    assert report.start == START and report.end == END and report.days == 7
    assert report.total_calls == 60
    assert report.answered == 30
    assert report.transferred == 12
    assert report.messages == 8
    assert report.abandoned == 6
    assert report.errors == 4


def test_calls_per_day_lists_every_day_in_order(report):
    assert report.calls_per_day == tuple(
        (date.fromordinal(START.toordinal() + d), n) for d, n in enumerate(CALLS_PER_DAY))
    assert [d.isoformat() for d, _ in report.calls_per_day][::6] == ["2026-11-30", "2026-12-06"]


def test_calls_per_hour(report):
    expected = [0] * 24
    expected[0], expected[8], expected[17], expected[23] = 1, 5, 5, 1
    for hour in range(9, 17):
        expected[hour] = 6
    assert report.calls_per_hour == tuple(expected)
    assert sum(report.calls_per_hour) == 60


def test_handled_without_person_needs_an_answer_and_no_transfer(report):
    # 30 'answered' calls, 3 of which got no answer; transferred calls that got an answer first don't count
    assert report.handled_without_person == 27
    assert report.handled_share == pytest.approx(0.45)


def test_transfers_by_target(report):
    assert report.transfers_by_target == (("accueil", 8), ("astreinte", 4))


def test_transfer_without_target(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    journal.call("a", "2026-12-01T10:00:00", "transferred")
    journal.close()
    assert build_report(journal.path, START, END).transfers_by_target == ((UNKNOWN_TARGET, 1),)


def test_transfers_by_reason(report):
    assert report.transfers_by_reason == (("demande_personne", 4), ("incompris", 4), ("urgence", 4))


def test_a_journal_from_before_transfer_reasons_counts_them_as_unknown(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the calls table as it was before schema version 2
        db.executescript(DDL.replace("  transfer_reason TEXT,\n  transfer_topic TEXT\n", "").replace(
            "transfer_target TEXT,\n);", "transfer_target TEXT\n);"))
        db.execute("INSERT INTO calls VALUES ('a', '2026-12-01T10:00:00', 4.0, 'transferred', NULL, 'accueil')")
    report = build_report(path, START, END)
    assert report.transfers_by_reason == ((UNKNOWN_REASON, 1),) and report.transfers_by_target == (("accueil", 1),)
    assert "      dont motif « (non précisé) » : 1" in render_text(report).splitlines()


def test_top_answers(report):
    assert report.top_answers == (("horaires_mairie", 15), ("dechetterie", 9), ("etat_civil", 9), ("cantine", 8))


def test_top_answers_keeps_the_fifteen_most_given(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    for k in range(20):  # answer a00 given 20 times, a01 19 times, ... a19 once
        journal.call(f"c{k}", "2026-12-02T09:00:00", "answered",
                     [(f"q{n}", "answer", f"a{n:02d}", None) for n in range(20 - k)])
    journal.close()
    report = build_report(journal.path, START, END)
    assert TOP_ANSWERS == 15
    assert report.top_answers == tuple((f"a{n:02d}", 20 - n) for n in range(15))


def test_latency_median_and_p95(report, journal):
    assert report.latency_samples == len(journal.latencies) == 27 + 6 + 3 + 8 * 2 + 4 + 8  # "au revoir" has none
    assert report.latency_median_ms == pytest.approx(statistics.median(journal.latencies))
    p95 = statistics.quantiles(journal.latencies, n=20, method="inclusive")[18]
    assert report.latency_p95_ms == pytest.approx(p95)


def test_latency_known_values(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    journal.call("a", "2026-12-01T10:00:00", "answered",
                 [(f"q{n}", "answer", "x", float(n)) for n in range(1, 21)] + [("au revoir", None, None, None)])
    journal.close()
    report = build_report(journal.path, START, END)
    assert report.latency_samples == 20
    assert report.latency_median_ms == 10.5
    assert report.latency_p95_ms == pytest.approx(19.05)


def test_calls_outside_the_period_are_ignored(journal):
    report = build_report(journal.path, date(2026, 11, 29), date(2026, 11, 29))
    assert report.total_calls == 1 and report.answered == 1 and report.handled_without_person == 1
    assert report.calls_per_day == ((date(2026, 11, 29), 1),)
    assert report.calls_per_hour[23] == 1
    assert report.top_answers == (("horaires_mairie", 1),)
    assert report.latency_median_ms == 9999.0
    assert report.unanswered_turns == 1
    assert build_report(journal.path, date(2026, 12, 7), date(2026, 12, 31)).transfers_by_target == (("accueil", 1),)


# --------------------------------------------------------------------------- unanswered questions

def test_unanswered_clusters(report):
    assert report.unanswered_turns == 11  # blank transcripts (silence) are left out
    assert report.unanswered_clusters == (
        Cluster(5, "le marché de noël c est quand", ("c est quand le marché de noel", "marché de noël date")),
        Cluster(3, "le prix de la piscine", ("quel est le prix de la piscine",)),
        Cluster(1, "carte grise", ()),
        Cluster(1, "euh", ()),
        Cluster(1, SCRIPT, ()),
    )


def test_cluster_transcripts_groups_near_duplicates_only():
    clusters = cluster_transcripts([
        "marché de noël date", "le marché de noël c est quand", "LE MARCHE DE NOEL C'EST QUAND",
        "horaires de la piscine", "le prix de la piscine", "le marché du samedi", "", "  ",
        "acte de naissance", "je voudrais un acte de naissance", "un acte de naissance s'il vous plaît",
        "le marché de noël", "c'est quand le marché de noël",
    ])
    assert [c.size for c in clusters] == [5, 3, 1, 1, 1]
    noel, acte = clusters[0], clusters[1]
    assert noel.representative == "le marché de noël c est quand"  # first heard of two equally frequent
    assert len(noel.examples) == 3
    assert all("noel" in x.lower() or "noël" in x.lower() for x in noel.examples)
    assert "acte de naissance" in acte.representative
    singles = sorted(c.representative for c in clusters[2:])
    assert singles == ["horaires de la piscine", "le marché du samedi", "le prix de la piscine"]
    assert cluster_transcripts([]) == ()


def test_cluster_similarity_threshold_is_adjustable():
    texts = ["horaires de la piscine", "le prix de la piscine"]
    assert len(cluster_transcripts(texts)) == 2
    assert len(cluster_transcripts(texts, similarity=60)) == 1


# --------------------------------------------------------------------------- text rendering

def test_text_key_lines(report):
    text = render_text(report)
    lines = text.splitlines()
    assert lines[0] == "Rapport d'activité du standard vocal — du 30/11/2026 au 06/12/2026"
    assert re.search(r"^  Appels reçus +: 60$", text, re.M)
    assert re.search(r"^  Traités sans intervention humaine +: 27 \(45,0 %\)$", text, re.M)
    assert re.search(r"^  Transférés à une personne +: 12$", text, re.M)
    assert re.search(r"^  Messages laissés +: 8$", text, re.M)
    assert re.search(r"^  Abandonnés \(raccrochés\) +: 6$", text, re.M)
    assert re.search(r"^  Erreurs techniques +: 4$", text, re.M)
    assert "      dont vers accueil : 8" in lines and "      dont vers astreinte : 4" in lines
    assert "      dont motif « Demande à parler à une personne (demande_personne) » : 4" in lines
    assert "      dont motif « Urgence signalée (urgence) » : 4" in lines
    assert re.search(r"^   1\. horaires_mairie +15$", text, re.M)
    assert "Questions sans réponse (à ajouter en priorité)" in lines
    assert "   1. (5 fois) « le marché de noël c est quand »" in lines
    assert "        aussi : « marché de noël date »" in lines
    assert "   2. (3 fois) « le prix de la piscine »" in lines
    assert "Aucun appel sur cette période." not in text


def test_text_bar_charts(report):
    lines = render_text(report).splitlines()
    monday = next(line for line in lines if line.startswith("  lun. 30/11"))
    sunday = next(line for line in lines if line.startswith("  dim. 06/12"))
    assert monday == "  lun. 30/11  " + "█" * 50 + " 12"  # the busiest day gets the full bar
    assert sunday == "  dim. 06/12  " + "█" * 17 + " 4"
    hours = [line for line in lines if re.match(r"  \d\d h", line)]
    assert hours[0].startswith("  00 h  █") and hours[-1].startswith("  23 h  █") and len(hours) == 24
    assert "  05 h  0" in hours


def test_text_lines_stay_under_100_characters(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    long_question = "je voudrais savoir " + "vraiment " * 30 + "où se trouve la salle des fêtes"
    journal.call("a", "2026-12-01T10:00:00", "message", [(long_question, "nomatch", None, None),
                                                          ("x" * 150, "nomatch", None, None)])
    journal.call("b", "2026-12-01T10:00:00", "transferred", target="service " * 20)
    journal.call("c", "2026-12-01T10:00:00", "answered", [("q", "answer", "id_" * 40, None)])
    journal.close()
    text = render_text(build_report(journal.path, START, END))
    assert "sans réponse" in text and "…" in text
    assert max(len(line) for line in text.splitlines()) < 100


# --------------------------------------------------------------------------- HTML rendering

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class Checker(HTMLParser):
    """Checks that every element is closed in order; collects tags, SVGs and their bars."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.errors: list[str] = []
        self.svgs: list[dict] = []
        self.doctype = ""
        self.text: list[str] = []
        self.html_attrs: dict = {}

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "html":
            self.html_attrs = dict(attrs)
        if tag == "svg":
            self.svgs.append({"attrs": dict(attrs), "rects": []})
        if tag == "rect" and self.svgs:
            self.svgs[-1]["rects"].append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    return checker


def test_html_is_well_formed_and_accessible(report):
    page = render_html(report)
    checker = parse(page)
    assert checker.doctype.lower() == "doctype html"
    assert checker.html_attrs == {"lang": "fr"}
    assert re.search(r"<title>Rapport d'activité du standard vocal — du 30/11/2026 au 06/12/2026</title>",
                     page.replace("&#x27;", "'"))
    assert {"head", "body", "main", "h1", "table", "caption", "th", "style"} <= set(checker.tags)
    assert 'scope="col"' in page and 'scope="row"' in page
    # self-contained: no external resource
    assert not re.search(r"<(link|script|img|iframe)\b", page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "@import" not in page and "url(" not in page


def test_html_counts_transfers_by_reason(report):
    page = render_html(report)
    table = page[page.index("<caption>Transferts par motif</caption>"):]
    table = table[:table.index("</table>")]
    assert re.findall(r"<td>(.*?)</td><td class=\"n\">(\d+)</td>", table) == [
        ("Demande à parler à une personne (demande_personne)", "4"), ("Question non comprise (incompris)", "4"),
        ("Urgence signalée (urgence)", "4")]


def test_html_svg_bar_charts(report):
    checker = parse(render_html(report))
    assert len(checker.svgs) == 2
    days, hours = checker.svgs
    for svg in checker.svgs:
        assert svg["attrs"]["role"] == "img" and svg["attrs"]["aria-labelledby"]
    assert len(days["rects"]) == 7 and len(hours["rects"]) == 24
    heights = [float(r["height"]) for r in days["rects"]]
    assert heights[0] == max(heights) > 0  # Monday, the busiest day
    assert heights == pytest.approx([max(heights) * n / 12 for n in CALLS_PER_DAY], abs=0.1)
    hour_heights = [float(r["height"]) for r in hours["rects"]]
    assert hour_heights[5] == 0 and hour_heights[9] == max(hour_heights)


def test_html_figures_and_escaping(report):
    page = render_html(report)
    checker = parse(page)
    text = " ".join(checker.text)
    assert "script" not in checker.tags  # the caller's "<script>" is text, not markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT in text
    for figure in ("Appels reçus", "27 (45,0 %)", "accueil", "astreinte", "horaires_mairie",
                   "Questions sans réponse (à ajouter en priorité)", "le marché de noël c est quand",
                   "marché de noël date", "le prix de la piscine"):
        assert figure in text


def test_empty_period(tmp_path, journal):
    for report in (build_report(journal.path, date(2027, 1, 1), date(2027, 1, 3)),
                   build_report(empty_journal(tmp_path / "empty.sqlite"), date(2027, 1, 1), date(2027, 1, 3))):
        assert report.total_calls == 0 and report.handled_without_person == 0 and report.handled_share == 0.0
        assert report.calls_per_day == tuple((date(2027, 1, d), 0) for d in (1, 2, 3))
        assert report.calls_per_hour == (0,) * 24
        assert report.transfers_by_target == () and report.top_answers == ()
        assert report.latency_median_ms is None and report.latency_p95_ms is None
        assert report.unanswered_turns == 0 and report.unanswered_clusters == ()
        text = render_text(report)
        assert "Aucun appel sur cette période." in text
        assert re.search(r"^  Appels reçus +: 0$", text, re.M)
        assert "(0,0 %)" in text and "—" in text and "█" not in text
        page = render_html(report)
        checker = parse(page)
        assert "Aucun appel sur cette période." in " ".join(checker.text)
        assert len(checker.svgs) == 2


def test_single_day_title(journal):
    report = build_report(journal.path, START, START)
    assert report.total_calls == 12
    assert render_text(report).startswith("Rapport d'activité du standard vocal — le 30/11/2026\n")


# --------------------------------------------------------------------------- access to the journal

def test_missing_journal_raises_file_not_found(tmp_path):
    missing = tmp_path / "nowhere" / "calls.sqlite"
    with pytest.raises(FileNotFoundError, match="call journal not found") as error:
        build_report(missing, START, END)
    assert str(missing) in str(error.value)
    assert not missing.exists()


def test_start_after_end_is_refused(journal):
    with pytest.raises(ValueError, match="after end"):
        build_report(journal.path, END, START)


def test_not_a_journal(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("ceci n'est pas une base de données\n" * 100)
    with pytest.raises(ValueError, match="not a readable call journal"):
        build_report(bogus, START, END)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    with pytest.raises(ValueError, match="not a readable call journal"):
        build_report(other, START, END)


def test_report_reads_without_touching_the_journal(tmp_path):
    path = week_journal(tmp_path / "calls.sqlite").path
    old = os.stat(path).st_mtime_ns - 10_000_000_000  # make any write visible, whatever the clock's resolution
    os.utime(path, ns=(old, old))
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns, sorted(os.listdir(tmp_path)))
    build_report(path, START, END)
    path.chmod(0o444)  # a journal the report's user may not write to is fine
    try:
        assert build_report(path, START, END).total_calls == 60
    finally:
        path.chmod(0o644)
    after = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns, sorted(os.listdir(tmp_path)))
    assert after == before


def test_report_does_not_block_a_writer(tmp_path):
    path = week_journal(tmp_path / "calls.sqlite").path
    writer = sqlite3.connect(path, timeout=0.1)
    try:
        build_report(path, START, END)
        writer.execute("INSERT INTO calls VALUES ('new', '2026-12-02T10:00:00', 1.0, 'error', NULL, NULL, NULL, NULL)")
        writer.commit()
    finally:
        writer.close()
    assert build_report(path, START, END).errors == 5


def test_report_is_frozen(report):
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.total_calls = 0  # type: ignore[misc]


def test_the_report_command_reads_the_configured_journal(tmp_path):
    from datetime import datetime

    from callbot.journal import CallJournal, JournalTurn
    from conftest import MINIMAL_CONFIG, MINIMAL_SHEET, run_callbot

    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "a.yaml").write_text(MINIMAL_SHEET, encoding="utf-8")
    config = tmp_path / "callbot.yaml"
    config.write_text(MINIMAL_CONFIG + f"journal:\n  path: {tmp_path / 'j.sqlite3'}\n", encoding="utf-8")
    journal = CallJournal(tmp_path / "j.sqlite3")
    journal.record("a", datetime(2026, 12, 1, 18, 0), 30, "answered", "0612345678", None,
                   [JournalTurn("les horaires", "answer", "horaires", 0.9, 80.0)])
    journal.record("b", datetime(2026, 12, 2, 19, 0), 20, "abandoned", "", None,
                   [JournalTurn("le marché de noël", "nomatch", None, 0.2, 70.0)])
    html = tmp_path / "report.html"
    result = run_callbot("report", "--config", str(config), "--from", "2026-12-01", "--to", "2026-12-07",
                         "--html", str(html))
    assert result.returncode == 0, result.stderr
    assert "marché de noël" in result.stdout and "horaires" in result.stdout
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_clarifying_questions_are_counted_and_declined_ones_listed_as_unanswered(tmp_path):
    journal = Journal(tmp_path / "calls.sqlite")
    journal.call("a", "2026-12-01T10:00:00", "answered", [
        ("je travaille le samedi", "clarify", None, 300.0), ("la première", "answer", "horaires_mairie", 300.0)])
    journal.call("b", "2026-12-01T11:00:00", "transferred", [
        ("les papiers", "clarify", None, 300.0), ("aucun des deux", "declined", None, 300.0),
        ("je voudrais parler à quelqu un", "transfer", None, 300.0)], target="accueil")
    journal.close()
    built = build_report(tmp_path / "calls.sqlite", date(2026, 12, 1), date(2026, 12, 1))
    assert (built.clarifications, built.clarifications_declined) == (2, 1)
    assert built.unanswered_turns == 1 and built.unanswered_clusters[0].representative == "les papiers"
    assert built.handled_without_person == 1
    assert "Questions de précision posées : 2 (dont 1 refusées)" in " ".join(render_text(built).split())


def test_every_transfer_reason_of_the_dialog_has_words_for_staff():
    from callbot.dialog import TRANSFER_REASONS
    from callbot.report import REASON_LABELS

    assert set(TRANSFER_REASONS) <= set(REASON_LABELS)
