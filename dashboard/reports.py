"""Builds the printable session and subject reports (HTML and PDF) from what the pages show.

Formatting lives here, rendering in :mod:`fer_core.reports`. Why every function takes the time
zone as an argument instead of asking :func:`dashboard.ui.display_tz`: a download's data is made
when the button is clicked, outside the page's run, where the browser's zone is unknown; the
report then printed UTC times beside chart axes drawn in local time (issue 19). The page reads
the zone once, draws its charts in it and hands the same name to the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from dashboard import charts, ui
from fer_core import analytics as an
from fer_core.reports import Chart, SessionReport, SubjectReport, Table, render_html, render_pdf

#: consent-record fields in the order a reader wants them, with their printed names
CONSENT_FIELDS = {"given": "Consent given", "at": "Given at", "subject": "Given by (subject)",
                  "obtained_by": "Obtained by", "text_version": "Text version",
                  "text": "Text shown"}
#: pipeline settings in the order a reader wants them (the rest follow, sorted)
PIPELINE_FIELDS = {"backend": "Runtime", "crops": "Crops per face",
                   "detect_every": "Full face scan every n-th frame",
                   "detect_scale": "Face scan on frame scaled by", "min_face": "Smallest face (px)",
                   "max_faces": "Faces per frame at most", "temperature": "Temperature"}


# ---- formatting -------------------------------------------------------------------------------

def fmt_time(ts: Any, tz: str, seconds: bool = False) -> str:
    """A time in ``tz`` (to the minute, or the second for times within a session)."""
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return "—"
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def fmt_duration(seconds: float) -> str:
    seconds = float(seconds or 0)
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def pct(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * value:.0f}%"


def summary_rows(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Formatted (metric, value) rows of a session summary (its start and end are in the
    report's first table, with seconds)."""
    rows = [
        ("Duration", fmt_duration(s["duration_s"])),
        ("Face in view", pct(s["face_in_view"])),
        ("Dominant expression", s["dominant"] or "—"),
        ("Negative-affect share", pct(s["negative_share"])),
        ("Mean valence (derived estimate)", f"{s['mean_valence']:.2f}"),
        ("Mean confidence", f"{s['mean_confidence']:.2f}"),
    ]
    rows += [(f"Share {c}", f"{100 * s[f'share_{c}']:.1f}%") for c in an.CLASSES]
    return rows


def consent_rows(consent: Mapping[str, Any] | None, tz: str) -> list[tuple[str, str]]:
    """The stored consent record as printed rows; its time in the report's zone."""
    if not consent:
        return []
    rows = []
    for key in [*CONSENT_FIELDS, *sorted(k for k in consent if k not in CONSENT_FIELDS)]:
        if key not in consent:
            continue
        value = consent[key]
        if key == "at":
            text = fmt_time(value, tz, seconds=True)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = str(value)
        rows.append((CONSENT_FIELDS.get(key, key.replace("_", " ")), text))
    return rows


def pipeline_rows(meta_extra: Mapping[str, Any], window_s: float) -> list[tuple[str, str]]:
    """What made the rows (the session's stored pipeline settings) and how the report smooths."""
    stored = dict(meta_extra.get("pipeline") or {})
    keys = [*(k for k in PIPELINE_FIELDS if k in stored),
            *sorted(k for k in stored if k not in PIPELINE_FIELDS)]
    rows = [(PIPELINE_FIELDS.get(k, k.replace("_", " ")), str(stored[k])) for k in keys]
    rows.append(("Chart smoothing window (this report)", f"{window_s:g} s"))
    return rows


def marker_spans(meta) -> list[tuple[pd.Timestamp, pd.Timestamp | None, str]]:
    """(start, end or None, label) of the session's task segments (a point marker has no end),
    in UTC, in time order."""
    return [(pd.Timestamp(seg.start), None if seg.end is None else pd.Timestamp(seg.end),
             seg.label) for seg in meta.sorted_segments()]


def segment_rows(spans: Sequence[tuple[Any, Any, str]], start: Any,
                 tz: str) -> list[tuple[str, str, str]]:
    """(label, start, end or "") table rows: wall-clock time with seconds and the offset from
    the session's start (the page's marker input is in seconds from start)."""
    t0 = pd.Timestamp(start)

    def at(ts) -> str:
        offset = (pd.Timestamp(ts) - t0).total_seconds()
        return f"{fmt_time(ts, tz, seconds=True)} (+{offset:.1f} s)"

    return [(label, at(s), "" if e is None else at(e)) for s, e, label in spans]


def _local_spans(spans, tz: str):
    """Spans in ``tz``: charts draw wall-clock time of the display zone."""
    return [(pd.Timestamp(s).tz_convert(tz), None if e is None else pd.Timestamp(e).tz_convert(tz),
             label) for s, e, label in spans]


def _num(value: Any, fmt: str, suffix: str = "") -> str:
    return "—" if value is None or pd.isna(value) else f"{value:{fmt}}{suffix}"


#: The per-segment and per-session figure columns of the report tables (shares in %).
FIGURE_COLUMNS = ("duration (s)", "face in view", *an.CLASSES, "valence (derived)",
                  "mean confidence")


def _figure_cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    return (_num(row["duration_s"], ".1f"), _num(100 * row["face_in_view"], ".0f", "%"),
            *(_num(100 * row[f"share_{c}"], ".0f", "%") for c in an.CLASSES),
            _num(row["mean_valence"], ".2f"), _num(row["mean_confidence"], ".2f"))


def segment_figures_table(figures: pd.DataFrame, tz: str) -> Table:
    """The Session summary's segment table for the report: every interval segment's figures
    (:func:`fer_core.measures.segments.segment_figures`); a point marker has none."""
    rows = [(str(r["label"]), fmt_time(r["start"], tz, seconds=True),
             fmt_time(r["end"], tz, seconds=True), *_figure_cells(r))
            for r in figures.to_dict("records") if r["end"] is not None and not pd.isna(r["end"])]
    return Table(("label", "start", "end", *FIGURE_COLUMNS), tuple(rows))


def label_comparison_table(label: str, table: pd.DataFrame, tz: str) -> Table:
    """One segment label across a subject's sessions, for the subject report (the rows of
    :func:`fer_core.analytics.segments.label_across_sessions`)."""
    rows = [(label, fmt_time(r["started_at"], tz), str(r["session"]), str(r["n_segments"]),
             *_figure_cells(r)) for r in table.to_dict("records")]
    return Table(("segment label", "session start", "session", "segments", *FIGURE_COLUMNS),
                 tuple(rows))


# ---- the session report -----------------------------------------------------------------------

def session_report_model(subject: str, meta, s: Mapping[str, Any], figs: Mapping[str, Any],
                         window_s: float, tz: str, *, quality: str | None = None,
                         segment_figures: Table | None = None,
                         generated: pd.Timestamp | None = None) -> SessionReport:
    """The facts of one session's report. ``figs``: the page's plotly figures (drawn in
    ``tz``); ``quality``: the one-line recording-quality verdict, when there is one."""
    spans = marker_spans(meta)
    local = _local_spans(spans, tz)
    return SessionReport(
        title=f"Session report — {subject} — {fmt_time(s['start'], tz)}",
        time_zone=tz, subject=subject, session=meta.session,
        generated_at=fmt_time(generated or pd.Timestamp.now(tz="UTC"), tz),
        session_label=meta.label, operator=meta.operator,
        model_name=meta.model_name, model_version=meta.model_version,
        started=fmt_time(meta.started_at or s["start"], tz, seconds=True),
        ended=fmt_time(meta.ended_at or s["end"], tz, seconds=True),
        consent=consent_rows(meta.consent, tz),
        pipeline=pipeline_rows(meta.extra or {}, window_s),
        summary=summary_rows(s),
        segments=segment_rows(spans, s["start"], tz),
        notes=meta.notes, quality=quality, segment_figures=segment_figures,
        charts=[Chart(name, charts.figure_png(fig, spans=local)) for name, fig in figs.items()],
        synthetic=meta.synthetic,
        footnotes=[f"Smoothing window {window_s:g} s.",
                   an.VALENCE_LABEL + ": " + ", ".join(
                       f"{c} {w:+.1f}" for c, w in an.VALENCE_WEIGHTS.items())],
    )


def session_report(subject: str, meta, s: dict, figs: dict, window_s: float,
                   tz: str = "UTC", **extra: Any) -> str:
    """The printable session report as HTML (``extra``: quality, segment_figures)."""
    return render_html(session_report_model(subject, meta, s, figs, window_s, tz, **extra))


def session_report_pdf(subject: str, meta, s: dict, figs: dict, window_s: float,
                       tz: str = "UTC", **extra: Any) -> bytes:
    """The printable session report as an A4 PDF (``extra``: quality, segment_figures)."""
    return render_pdf(session_report_model(subject, meta, s, figs, window_s, tz, **extra))


# ---- the subject report -----------------------------------------------------------------------

SESSION_COLUMNS = ("start", "session", "label", "operator", "duration", "face in view",
                   "dominant", "negative affect", "valence (derived)", "mean confidence",
                   "flagged")


def sessions_table(table: pd.DataFrame, flagged: set[str], tz: str,
                   listing: pd.DataFrame | None = None) -> Table:
    """The period's sessions, one printed row each. ``listing``: the store's session list
    (``LogStore.list_sessions``), whose label and operator columns fill those of the report."""
    info: dict[str, dict] = {}
    if listing is not None and not listing.empty:
        info = listing.drop_duplicates("session").set_index("session").to_dict("index")
    rows = []
    for r in table.sort_values("start").to_dict("records"):
        known = {**info.get(r["session"], {}), **r}

        def text(key: str, known=known) -> str:
            value = known.get(key)
            return "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
                else str(value)

        rows.append((
            fmt_time(r["start"], tz), str(r["session"]), text("label"), text("operator"),
            fmt_duration(r["duration_s"]), pct(r["face_in_view"]), str(r["dominant"] or "—"),
            pct(r["negative_share"]), f"{r['mean_valence']:.2f}",
            f"{r['mean_confidence']:.2f}", "yes" if r["session"] in flagged else "",
        ))
    return Table(SESSION_COLUMNS, rows)


def baseline_text(flags: pd.DataFrame, tz: str, rule: str | None = None) -> str:
    """Which baseline the observations use and what they found, one line each."""
    lines = [rule or ("Baseline: each session against the mean of this person's earlier "
                      "sessions (at least 3 earlier sessions; flagged beyond 2 sd).")]
    if flags.empty:
        lines.append("No session in this period departs from the baseline.")
    for f in flags.itertuples():
        lines.append(f"{fmt_time(f.start, tz)} (session {f.session}): {f.observation}")
    return "\n".join(lines)


def subject_report_model(subject: str, period: tuple[date, date], summary: Mapping[str, Any],
                         table: pd.DataFrame, flags: pd.DataFrame, figs: Mapping[str, Any],
                         tz: str, *, synthetic: bool = False, baseline_rule: str | None = None,
                         segment_comparison: Table | None = None,
                         listing: pd.DataFrame | None = None,
                         generated: pd.Timestamp | None = None) -> SubjectReport:
    """The facts of a subject's report over ``period`` (local dates, inclusive).

    ``table``: the period's session table (history's), ``flags``: its baseline observations,
    ``figs``: the page's plotly figures, ``listing``: the store's session list (labels and
    operators), ``segment_comparison``: the same segment label across sessions, when given.
    """
    start, end = period
    return SubjectReport(
        title=f"Subject report — {subject} — {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        time_zone=tz, subject=subject, period=f"{start:%Y-%m-%d} to {end:%Y-%m-%d}",
        generated_at=fmt_time(generated or pd.Timestamp.now(tz="UTC"), tz),
        summary=[("Sessions", str(summary["n_sessions"])),
                 ("Recorded time", fmt_duration(summary["duration_s"])),
                 ("Face in view", pct(summary["face_in_view"])),
                 ("Negative-affect share", pct(summary["negative_share"]))],
        sessions=sessions_table(table, set(flags["session"]) if not flags.empty else set(), tz,
                                listing),
        baseline=baseline_text(flags, tz, baseline_rule),
        segment_comparison=segment_comparison,
        charts=[Chart(name, charts.figure_png(fig)) for name, fig in figs.items()],
        synthetic=synthetic,
        footnotes=[an.VALENCE_LABEL + ": " + ", ".join(
            f"{c} {w:+.1f}" for c, w in an.VALENCE_WEIGHTS.items())],
    )


def subject_report(*args, **kwargs) -> str:
    """The subject report as HTML (arguments of :func:`subject_report_model`)."""
    return render_html(subject_report_model(*args, **kwargs))


def subject_report_pdf(*args, **kwargs) -> bytes:
    """The subject report as an A4 PDF (arguments of :func:`subject_report_model`)."""
    return render_pdf(subject_report_model(*args, **kwargs))


def report_file_name(ext: str, subject: str, *parts: object) -> str:
    """``report_p01_s-a.pdf``, ``report_p01_2026-11-01_2026-11-30.pdf``: a saved report says
    whose it is and what it covers."""
    return "_".join(["report", *(ui.slug(str(x)) for x in (subject, *parts))]) + f".{ext}"
