"""Builds the printable session report from what the session page shows."""

from __future__ import annotations

from dashboard import charts, ui
from fer_core import analytics as an
from fer_core.analytics.report import render_session_report


def summary_rows(s: dict) -> list[tuple[str, str]]:
    """Formatted (metric, value) rows of a session summary, used by the page and the report."""
    rows = [
        ("Start", ui.fmt_time(s["start"])),
        ("Duration", ui.fmt_duration(s["duration_s"])),
        ("Face in view", ui.pct(s["face_in_view"])),
        ("Dominant expression", s["dominant"] or "—"),
        ("Negative-affect share", ui.pct(s["negative_share"])),
        ("Mean valence (derived estimate)", f"{s['mean_valence']:.2f}"),
        ("Mean confidence", f"{s['mean_confidence']:.2f}"),
    ]
    rows += [(f"Share {c}", f"{100 * s[f'share_{c}']:.1f}%") for c in an.CLASSES]
    return rows


def session_report(subject: str, meta, s: dict, figs: dict, window_s: float) -> str:
    images = {name: charts.figure_png(fig) for name, fig in figs.items()}
    return render_session_report(
        f"Session report — {subject} — {ui.fmt_time(s['start'])}",
        [("Subject", subject), ("Session", meta.session), *summary_rows(s)],
        images,
        notes=meta.notes,
        markers=[(ui.fmt_time(seg.start) if seg.end is None else
                  f"{ui.local(seg.start):%Y-%m-%d %H:%M:%S} to {ui.local(seg.end):%H:%M:%S}",
                  seg.label) for seg in meta.sorted_segments()],
        synthetic=meta.synthetic,
        footnotes=[f"Smoothing window {window_s:g} s. Times in {ui.display_tz()}.",
                   an.VALENCE_LABEL + ": " + ", ".join(
                       f"{c} {w:+.1f}" for c, w in an.VALENCE_WEIGHTS.items())],
    )
