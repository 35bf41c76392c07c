"""Activity report from the call journal, for the mairie's staff (text and HTML, in French).

`build_report` reads the SQLite call journal (see `callbot.journal`) through a
read-only connection, so a report never locks, creates or alters the live
journal, and gathers the figures of one period into a `Report`. `render_text`
turns it into a terminal report and `render_html` into one self-contained HTML
page (inline style, inline SVG charts, no external resource).

The most useful part for staff is the list of unanswered questions: the
transcripts of the turns the bot could not answer (action 'nomatch'), grouped
by similarity so that the most frequent missing answer comes first.
"""

from __future__ import annotations

import html
import math
import re
import sqlite3
import unicodedata
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from callbot.understanding.normalise import STOP_WORDS

__all__ = [
    "Cluster",
    "Report",
    "build_report",
    "cluster_transcripts",
    "render_html",
    "render_sections",
    "render_text",
    "TOP_ANSWERS",
    "SIMILARITY",
]

TOP_ANSWERS = 15  # how many answers the report lists
SIMILARITY = 75.0  # rapidfuzz token_set_ratio (0-100) from which two questions are near-duplicates
UNKNOWN_TARGET = "(non précisé)"  # transfers whose target the journal did not record
UNKNOWN_REASON = "inconnu"  # transfers journaled before reasons were kept
# What staff read for each transfer reason of the journal (the codes the agents' phones get in X-Callbot-Reason)
REASON_LABELS = {
    "demande_personne": "Demande à parler à une personne",
    "incompris": "Question non comprise",
    "silence": "Aucune réponse entendue",
    "urgence": "Urgence signalée",
    "apres_reponse": "Suite d'une réponse",
    "heures_ouverture": "Accueil ouvert : transfert direct",
    "erreur": "Incident technique",
    UNKNOWN_REASON: "(non précisé)",
}

_TEXT_CLUSTERS = 25  # clusters shown in the terminal report (the HTML page shows them all)
_TEXT_WIDTH = 99  # every line of the terminal report is at most this long
_BAR_WIDTH = 50  # longest bar of the terminal charts, in characters
_TRANSFERRED = "Transférés à une personne"
_DAY_NAMES = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


@dataclass(frozen=True)
class Cluster:
    """Near-duplicate unanswered questions.

    `size` is the number of unanswered turns in the group (repetitions
    included), `representative` the most frequent wording and `examples` up to
    three other wordings, most frequent first.
    """

    size: int
    representative: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """The figures of one period of the call journal (both dates included).

    A call belongs to the period when the date part of its `started_at` (the
    mairie's local time) falls between `start` and `end`; its turns come with
    it, whatever their own time.

    - `calls_per_day`: every day of the period in order, with its number of
      calls (0 included); `calls_per_hour`: 24 counts, index = hour of day.
    - `answered`, `transferred`, `messages`, `abandoned`, `errors`: calls by
      `outcome` ('answered', 'transferred', 'message', 'abandoned', 'error').
    - `handled_without_person`: calls whose outcome is 'answered' *and* that
      got at least one answer (a turn with action 'answer'). A transferred
      call, a message, an abandoned call or an error never counts, even if the
      bot gave an answer before; nor does an 'answered' call in which the bot
      answered nothing (only control words or unanswered questions).
      `handled_share` = handled_without_person / total_calls (0.0 when there
      was no call).
    - `transfers_by_target`: (target, calls) for the calls whose outcome is
      'transferred', most frequent first; a missing target is `UNKNOWN_TARGET`.
    - `transfers_by_reason`: (reason code, calls) for the same calls, most
      frequent first; a journal without reasons gives `UNKNOWN_REASON`.
    - `top_answers`: (answer id, turns answered with it), most frequent first,
      at most `TOP_ANSWERS`; ties in alphabetical order.
    - `latency_median_ms`, `latency_p95_ms`: over the turns whose latency was
      recorded (`latency_samples` of them; None when there is none). The 95th
      percentile is linearly interpolated.
    - `clarifications`: turns with action 'clarify' (the bot asked which of
      one or two answers the caller meant); `clarifications_declined`: replies
      with action 'declined' (none of them).
    - `unanswered_turns`: turns with action 'nomatch', or 'clarify' followed
      by a 'declined' reply, and a non-blank transcript; `unanswered_clusters`: those transcripts grouped by
      similarity (see `cluster_transcripts`), largest group first.
    """

    start: date
    end: date
    total_calls: int
    calls_per_day: tuple[tuple[date, int], ...]
    calls_per_hour: tuple[int, ...]
    answered: int
    handled_without_person: int
    handled_share: float
    transferred: int
    transfers_by_target: tuple[tuple[str, int], ...]
    messages: int
    abandoned: int
    errors: int
    top_answers: tuple[tuple[str, int], ...]
    latency_median_ms: float | None
    latency_p95_ms: float | None
    latency_samples: int
    unanswered_turns: int
    unanswered_clusters: tuple[Cluster, ...]
    clarifications: int = 0  # clarifying questions asked ("Votre question concerne-t-elle A, ou B ?")
    clarifications_declined: int = 0  # ... to which the caller said "non" or "aucun des deux"
    transfers_by_reason: tuple[tuple[str, int], ...] = ()

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1


# --------------------------------------------------------------------------- reading the journal

def _connect_read_only(db_path: Path) -> sqlite3.Connection:
    uri = f"{Path(db_path).resolve().as_uri()}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=10.0)
    connection.execute("PRAGMA query_only = ON")
    return connection


def build_report(db_path: Path, start: date, end: date, *, similarity: float = SIMILARITY) -> Report:
    """Read the call journal at `db_path` and gather the figures from `start` to `end` (inclusive).

    The journal is opened read-only (`file:...?mode=ro`), so the report never
    writes to it nor creates it. Raises FileNotFoundError when the file does
    not exist, ValueError when `start` is after `end` or when the file is not
    a readable call journal.
    """
    db_path = Path(db_path)
    if start > end:
        raise ValueError(f"the report period is empty: start {start.isoformat()} is after end {end.isoformat()}")
    if not db_path.is_file():
        raise FileNotFoundError(f"call journal not found: {db_path} (no call has been journaled there yet?)")
    period = (start.isoformat(), end.isoformat())
    in_period = "substr(c.started_at, 1, 10) BETWEEN ? AND ?"
    try:
        with closing(_connect_read_only(db_path)) as db:
            # journals from before schema version 2 have no reasons: count them as unknown
            columns = {row[1] for row in db.execute("PRAGMA table_info(calls)")}
            reason = "c.transfer_reason" if "transfer_reason" in columns else "NULL"
            calls = db.execute(
                f"SELECT c.id, c.started_at, c.outcome, c.transfer_target, {reason},"
                f" EXISTS (SELECT 1 FROM turns t WHERE t.call_id = c.id AND t.action = 'answer')"
                f" FROM calls c WHERE {in_period}", period).fetchall()
            answers = db.execute(
                f"SELECT t.answer, count(*) FROM turns t JOIN calls c ON c.id = t.call_id"
                f" WHERE {in_period} AND t.action = 'answer' AND t.answer IS NOT NULL"
                f" GROUP BY t.answer", period).fetchall()
            latencies = [row[0] for row in db.execute(
                f"SELECT t.latency_ms FROM turns t JOIN calls c ON c.id = t.call_id"
                f" WHERE {in_period} AND t.latency_ms IS NOT NULL", period)]
            kinds = dict(db.execute(
                f"SELECT t.action, count(*) FROM turns t JOIN calls c ON c.id = t.call_id"
                f" WHERE {in_period} AND t.action IN ('clarify', 'declined') GROUP BY t.action", period).fetchall())
            # a question whose clarifying question the caller declined was not answered either
            unanswered = [row[0] for row in db.execute(
                f"SELECT t.transcript FROM turns t JOIN calls c ON c.id = t.call_id"
                f" LEFT JOIN turns n ON n.call_id = t.call_id AND n.turn = t.turn + 1"
                f" WHERE {in_period} AND (t.action = 'nomatch' OR (t.action = 'clarify' AND n.action = 'declined'))"
                f" ORDER BY c.started_at, t.call_id, t.turn", period)]
    except sqlite3.DatabaseError as error:
        raise ValueError(f"{db_path} is not a readable call journal: {error}") from error

    per_day: Counter[date] = Counter()
    per_hour = [0] * 24
    outcomes: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    handled = 0
    for _id, started_at, outcome, target, reason, got_answer in calls:
        day = date.fromisoformat(started_at[:10])
        per_day[day] += 1
        hour = _hour(started_at)
        if hour is not None:
            per_hour[hour] += 1
        outcomes[outcome] += 1
        if outcome == "transferred":
            targets[target or UNKNOWN_TARGET] += 1
            reasons[reason or UNKNOWN_REASON] += 1
        if outcome == "answered" and got_answer:
            handled += 1

    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    total = len(calls)
    transcripts = [t for t in unanswered if t and t.strip()]
    median, p95 = (None, None)
    if latencies:
        values = np.asarray(latencies, dtype=float)
        median, p95 = float(np.median(values)), float(np.percentile(values, 95))
    return Report(
        start=start,
        end=end,
        total_calls=total,
        calls_per_day=tuple((day, per_day[day]) for day in days),
        calls_per_hour=tuple(per_hour),
        answered=outcomes["answered"],
        handled_without_person=handled,
        handled_share=handled / total if total else 0.0,
        transferred=outcomes["transferred"],
        transfers_by_target=tuple(sorted(targets.items(), key=lambda kv: (-kv[1], kv[0]))),
        messages=outcomes["message"],
        abandoned=outcomes["abandoned"],
        errors=outcomes["error"],
        top_answers=tuple(sorted(((a, n) for a, n in answers), key=lambda kv: (-kv[1], kv[0]))[:TOP_ANSWERS]),
        latency_median_ms=median,
        latency_p95_ms=p95,
        latency_samples=len(latencies),
        unanswered_turns=len(transcripts),
        unanswered_clusters=cluster_transcripts(transcripts, similarity=similarity),
        clarifications=kinds.get("clarify", 0),
        clarifications_declined=kinds.get("declined", 0),
        transfers_by_reason=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _hour(started_at: str) -> int | None:
    """The hour of an ISO 8601 time ('2026-12-01T10:15:03' or '2026-12-01 10:15'), None without one."""
    match = re.match(r"\d{4}-\d{2}-\d{2}[T ](\d{2})", started_at)
    if match and int(match.group(1)) < 24:
        return int(match.group(1))
    return None


# --------------------------------------------------------------------------- grouping questions

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case, no accent, letters and digits only: 'Noël, c'est quand ?' -> 'noel c est quand'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def _topic(folded: str) -> str:
    """The words that carry the topic (grammatical words, fillers and politeness dropped)."""
    words = folded.split()
    return " ".join(w for w in words if w not in STOP_WORDS) or folded


def _display(text: str) -> str:
    """A transcript on one line, without control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def cluster_transcripts(transcripts: list[str], *, similarity: float = SIMILARITY) -> tuple[Cluster, ...]:
    """Group near-duplicate transcripts, largest group first.

    Transcripts are compared on their topic words: lower case, accents and
    punctuation removed, grammatical words dropped. Wordings that are then
    identical count as one (shown with their most frequent spelling, the
    first one on a tie: the journal gives them in chronological order). Greedy
    clustering: wordings are taken from the most frequent; each joins the
    group whose first (most frequent) wording is the most similar if the
    rapidfuzz `token_set_ratio` reaches `similarity`, else starts a group.
    Comparing with the first wording only keeps a chain of small differences
    from merging unrelated questions.
    """
    spellings: dict[str, Counter] = {}
    for text in transcripts:
        shown = _display(text)
        folded = _fold(shown)
        if folded:
            spellings.setdefault(folded, Counter())[shown] += 1
    wordings = sorted(
        ((sum(c.values()), folded, max(c.items(), key=lambda kv: kv[1])[0])
         for folded, c in spellings.items()),
        key=lambda w: (-w[0], w[1]))

    seeds: list[str] = []  # topic of each group's first wording
    groups: list[list[tuple[int, str]]] = []  # (count, shown) per wording
    for count, folded, shown in wordings:
        topic = _topic(folded)
        best = process.extractOne(topic, seeds, scorer=fuzz.token_set_ratio, score_cutoff=similarity)
        if best is None:
            seeds.append(topic)
            groups.append([(count, shown)])
        else:
            groups[best[2]].append((count, shown))
    clusters = [Cluster(size=sum(n for n, _ in group),
                        representative=group[0][1],
                        examples=tuple(shown for _, shown in group[1:4]))
                for group in groups]
    return tuple(sorted(clusters, key=lambda c: (-c.size, c.representative)))


# --------------------------------------------------------------------------- formatting helpers

def _int(n: int) -> str:
    """French thousands separator: 12345 -> '12 345'."""
    return f"{n:,}".replace(",", " ")


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".replace(".", ",") + " %"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{_int(round(value))} ms"


def _date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _day_label(day: date) -> str:
    return f"{_DAY_NAMES[day.weekday()]} {day.strftime('%d/%m')}"


def _period(report: Report) -> str:
    if report.start == report.end:
        return f"le {_date(report.start)}"
    return f"du {_date(report.start)} au {_date(report.end)}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{_int(n)} {word if n <= 1 else (plural or word + 's')}"


def _key_figures(report: Report) -> list[tuple[str, str]]:
    handled = f"{_int(report.handled_without_person)} ({_percent(report.handled_share)})"
    latency = f"{_ms(report.latency_median_ms)} / {_ms(report.latency_p95_ms)}"
    return [
        ("Appels reçus", _int(report.total_calls)),
        ("Traités sans intervention humaine", handled),
        (_TRANSFERRED, _int(report.transferred)),
        ("Messages laissés", _int(report.messages)),
        ("Abandonnés (raccrochés)", _int(report.abandoned)),
        ("Erreurs techniques", _int(report.errors)),
        ("Questions de précision posées", f"{_int(report.clarifications)} "
                                           f"(dont {_int(report.clarifications_declined)} refusées)"),
        ("Latence par tour (médiane / 95 %)", latency),
    ]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


# --------------------------------------------------------------------------- terminal report

def _bar_line(label: str, value: int, top: int) -> str:
    bar = "█" * max(1, round(value / top * _BAR_WIDTH)) + " " if value else ""
    return f"  {label}  {bar}{_int(value)}"


def render_text(report: Report) -> str:
    """The report as plain text for a terminal, in French, every line under 100 characters."""
    title = f"Rapport d'activité du standard vocal — {_period(report)}"
    lines = [title, "=" * len(title), ""]
    if not report.total_calls:
        lines += ["Aucun appel sur cette période.", ""]

    lines += ["Chiffres clés", "-------------"]
    figures = _key_figures(report)
    label_width = max(len(label) for label, _ in figures)
    for label, value in figures:
        lines.append(f"  {label:<{label_width}} : {value}")
        if label == _TRANSFERRED:
            lines += [_clip(f"      dont vers {target} : {_int(n)}", _TEXT_WIDTH)
                      for target, n in report.transfers_by_target]
            lines += [_clip(f"      dont motif « {_reason_label(reason)} » : {_int(n)}", _TEXT_WIDTH)
                      for reason, n in report.transfers_by_reason]
    lines.append("")

    lines += ["Appels par jour", "---------------"]
    top = max((n for _, n in report.calls_per_day), default=0)
    lines += [_bar_line(_day_label(day), n, top) for day, n in report.calls_per_day]
    lines.append("")

    lines += ["Appels par heure", "----------------"]
    busy = [h for h, n in enumerate(report.calls_per_hour) if n]
    if busy:
        top = max(report.calls_per_hour)
        lines += [_bar_line(f"{h:02d} h", report.calls_per_hour[h], top) for h in range(busy[0], busy[-1] + 1)]
    else:
        lines.append("  Aucun appel.")
    lines.append("")

    lines += ["Réponses les plus données", "-------------------------"]
    if report.top_answers:
        id_width = min(max(len(a) for a, _ in report.top_answers), 60)
        for rank, (answer, n) in enumerate(report.top_answers, 1):
            lines.append(f"  {rank:>2}. {_clip(answer, id_width):<{id_width}}  {_int(n)}")
    else:
        lines.append("  Aucune réponse donnée.")
    lines.append("")

    heading = "Questions sans réponse (à ajouter en priorité)"
    lines += [heading, "-" * len(heading)]
    clusters = report.unanswered_clusters
    if clusters:
        lines.append(f"  {_plural(report.unanswered_turns, 'question')} sans réponse, "
                     f"{_plural(len(clusters), 'sujet')}.")
        for rank, cluster in enumerate(clusters[:_TEXT_CLUSTERS], 1):
            head = f"  {rank:>2}. ({_plural(cluster.size, 'fois', 'fois')}) "
            lines.append(head + _clip(f"« {cluster.representative} »", _TEXT_WIDTH - len(head)))
            for example in cluster.examples:
                lines.append(_clip(f"        aussi : « {example} »", _TEXT_WIDTH))
        if len(clusters) > _TEXT_CLUSTERS:
            lines.append(f"  … et {_plural(len(clusters) - _TEXT_CLUSTERS, 'autre sujet', 'autres sujets')}.")
    else:
        lines.append("  Aucune question sans réponse.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTML page

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #1a1a1a; background: #ffffff; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
  line-height: 1.5; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 2px solid #1f4e79; }
p.period { color: #444444; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #8a8a8a; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #e8eef5; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.none { font-style: italic; }
svg { max-width: 100%; height: auto; display: block; }
svg text { font-family: inherit; fill: #1a1a1a; }
svg .bar { fill: #1f4e79; }
svg .axis { stroke: #555555; }
details { margin: 0.3rem 0 1rem; }
ul.examples { margin: 0; padding-left: 1.2rem; }
""".strip()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg_bars(ident: str, title: str, labels: list[str], tips: list[str], values: list[int]) -> str:
    """An inline SVG bar chart; `labels` under the bars (thinned out when many), `tips` as tooltips."""
    n = len(values)
    top = max(values, default=0)
    slot = max(8.0, min(40.0, 720.0 / max(n, 1)))
    left, bottom, height, top_margin = 40.0, 40.0, 180.0, 20.0
    width = left + slot * n + 10
    total_height = top_margin + height + bottom
    every = max(1, math.ceil(n / 16))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ident}-t {ident}-d"'
        f' width="{width:.0f}" height="{total_height:.0f}" viewBox="0 0 {width:.0f} {total_height:.0f}">',
        f'<title id="{ident}-t">{_e(title)}</title>',
        f'<desc id="{ident}-d">{_e("Maximum : " + _int(top) + " appel" + ("s" if top > 1 else ""))}</desc>',
        f'<line class="axis" x1="{left}" y1="{top_margin + height}" x2="{width - 5:.1f}"'
        f' y2="{top_margin + height}"/>',
        f'<text x="{left - 6}" y="{top_margin + 4}" text-anchor="end" font-size="11">{_int(top)}</text>',
        f'<text x="{left - 6}" y="{top_margin + height}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, (label, tip, value) in enumerate(zip(labels, tips, values, strict=True)):
        bar_height = height * value / top if top else 0.0
        x = left + i * slot + slot * 0.15
        y = top_margin + height - bar_height
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}"'
                     f' height="{bar_height:.1f}"><title>{_e(tip)}</title></rect>')
        if value and n <= 31:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle"'
                         f' font-size="10">{_int(value)}</text>')
        if i % every == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{top_margin + height + 15:.1f}"'
                         f' text-anchor="middle" font-size="10">{_e(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _reason_label(reason: str) -> str:
    """The staff's words for a reason code, with the code a PBX shows (a code this version does not know: as is)."""
    label = REASON_LABELS.get(reason)
    return f"{label} ({reason})" if label and reason != UNKNOWN_REASON else label or reason


def _table(caption: str, headers: tuple[str, str], rows: list[tuple[str, int]]) -> str:
    body = "\n".join(f'<tr><td>{_e(a)}</td><td class="n">{_int(n)}</td></tr>' for a, n in rows)
    return (f"<table>\n<caption>{_e(caption)}</caption>\n"
            f'<thead><tr><th scope="col">{_e(headers[0])}</th><th scope="col">{_e(headers[1])}</th></tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table>")


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page in French (inline style and SVG, nothing external)."""
    title = f"Rapport d'activité du standard vocal — {_period(report)}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="fr">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>\n{_STYLE}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        "<h1>Rapport d'activité du standard vocal</h1>",
        render_sections(report),
        "</main>", "</body>", "</html>",
    ]
    return "\n".join(out) + "\n"


def render_sections(report: Report) -> str:
    """The body of the HTML report (figures, charts, tables), for a page of its own or the staff console."""
    out = [f'<p class="period">Période {_e(_period(report))} ({_plural(report.days, "jour")})</p>']
    if not report.total_calls:
        out.append('<p class="none">Aucun appel sur cette période.</p>')

    out.append("<h2>Chiffres clés</h2>")
    out.append('<table>\n<caption>Chiffres clés de la période</caption>\n<tbody>')
    for label, value in _key_figures(report):
        out.append(f'<tr><th scope="row">{_e(label)}</th><td class="n">{_e(value)}</td></tr>')
    out.append("</tbody>\n</table>")
    if report.transfers_by_target:
        out.append(_table("Transferts par destinataire", ("Destinataire", "Appels"),
                          list(report.transfers_by_target)))
    if report.transfers_by_reason:
        out.append(_table("Transferts par motif", ("Motif", "Appels"),
                          [(_reason_label(reason), n) for reason, n in report.transfers_by_reason]))

    out.append("<h2>Appels par jour</h2>")
    days = report.calls_per_day
    out.append(_svg_bars("jours", f"Appels par jour, {_period(report)}",
                         [d.strftime("%d/%m") for d, _ in days],
                         [f"{_day_label(d)} : {_plural(n, 'appel')}" for d, n in days],
                         [n for _, n in days]))
    out.append("<details>\n<summary>Données du graphique</summary>")
    out.append(_table("Appels par jour", ("Jour", "Appels"), [(_day_label(d), n) for d, n in days]))
    out.append("</details>")

    out.append("<h2>Appels par heure</h2>")
    hours = list(report.calls_per_hour)
    out.append(_svg_bars("heures", "Appels par heure de la journée",
                         [f"{h}h" for h in range(24)],
                         [f"{h:02d} h : {_plural(n, 'appel')}" for h, n in enumerate(hours)],
                         hours))
    out.append("<details>\n<summary>Données du graphique</summary>")
    out.append(_table("Appels par heure", ("Heure", "Appels"),
                      [(f"{h:02d} h", n) for h, n in enumerate(hours) if n]))
    out.append("</details>")

    out.append("<h2>Réponses les plus données</h2>")
    if report.top_answers:
        out.append(_table(f"Les {len(report.top_answers)} réponses les plus données",
                          ("Réponse", "Fois"), list(report.top_answers)))
    else:
        out.append('<p class="none">Aucune réponse donnée.</p>')

    out.append("<h2>Questions sans réponse (à ajouter en priorité)</h2>")
    clusters = report.unanswered_clusters
    if clusters:
        out.append(f"<p>{_plural(report.unanswered_turns, 'question')} sans réponse, "
                   f"regroupées en {_plural(len(clusters), 'sujet')} ; le plus fréquent d'abord.</p>")
        out.append("<table>\n<caption>Questions sans réponse regroupées par similarité</caption>")
        out.append('<thead><tr><th scope="col">Rang</th><th scope="col">Fois</th>'
                   '<th scope="col">Question</th><th scope="col">Autres formulations</th></tr></thead>\n<tbody>')
        for rank, cluster in enumerate(clusters, 1):
            examples = "".join(f"<li>{_e(x)}</li>" for x in cluster.examples)
            examples = f'<ul class="examples">{examples}</ul>' if examples else ""
            out.append(f'<tr><td class="n">{rank}</td><td class="n">{_int(cluster.size)}</td>'
                       f"<td>{_e(cluster.representative)}</td><td>{examples}</td></tr>")
        out.append("</tbody>\n</table>")
    else:
        out.append('<p class="none">Aucune question sans réponse.</p>')
    return "\n".join(out)
