"""The "Recording quality" block of Session summary: verdict, figures, charts, flagged stretches.

One self-contained function, :func:`quality_section`, so the page adds it with one call. The
numbers come from :func:`fer_core.measures.quality.session_quality` (through the cached
:func:`dashboard.loaders.session_quality`); this module only lays them out.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, loaders, ui
from fer_core.measures import quality as q

HOW_TO_READ = (
    f"How to read this: each point is a {q.BIN_S:g}-s stretch of the recording. Stretches "
    f"are flagged when fewer than {q.LOW_FPS:g} frames a second were processed, the face was "
    f"in view less than {100 * q.MIN_FACE_IN_VIEW:.0f}% of the time, the face box was under "
    f"{q.SMALL_FACE_PX:g} px, the face crop was dark (mean gray level under "
    f"{q.DARK_BRIGHTNESS:g} of 255) or flat (contrast under {q.LOW_CONTRAST:g}), or most of "
    f"the face time had a confidence under {q.LOW_CONFIDENCE:.1f}. The verdict names a reason "
    f"when its stretches cover {100 * q.VERDICT_SHARE:.0f}% of the session or more."
)


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:{fmt}}{unit}"


def _clock(ts) -> str:
    """Time of day in the page's zone (the stretches of one session share its date)."""
    return ui.local(ts).strftime("%H:%M:%S")


def series_figure(series: pd.DataFrame, column: str, title: str, y_title: str,
                  threshold: float, scale: float = 1.0) -> go.Figure:
    """One quality series over wall-clock time with its flagging threshold dashed: a step per
    bin, the last one drawn to its end (a step chart otherwise stops where the last bin
    starts)."""
    x = [*series["start"], series["start"].iloc[-1] + pd.Timedelta(seconds=q.BIN_S)]
    y = [*(series[column] * scale), series[column].iloc[-1] * scale]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=y_title,
                             line={"shape": "hv", "color": "#1f77b4"}))
    fig.update_yaxes(rangemode="tozero")
    fig.add_hline(y=threshold * scale, line_dash="dash", line_color="#d62728",
                  annotation_text="flagged below", annotation_position="bottom right")
    charts._layout(fig, title, y_title)
    fig.update_layout(showlegend=False)
    return fig


def quality_section(subject: str, session: str) -> q.Quality:
    """Lay out the session's recording quality; returns it (for the report)."""
    st.subheader("Recording quality")
    quality = loaders.session_quality(subject, session)
    if quality.reliable:
        st.success(f"Verdict: **{quality.verdict}**", icon=":material/verified:")
    else:
        st.warning(f"Verdict: **{quality.verdict}**", icon=":material/report:")  # our text
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Processed rate", _num(quality.fps, ".1f", " fps"),
              help="Frames analysed and logged per second over the whole session.")
    dropped = quality.dropped_share
    c2.metric("Frames dropped", "—" if dropped is None else
              f"{quality.frames_dropped} ({100 * dropped:.0f}%)",
              help="Camera frames skipped because processing was busy with an earlier one "
              "(live recordings only; the processed rate is what counts for the figures).")
    c3.metric("Face size", _num(quality.face_px, ".0f", " px"),
              help="Median side of the face box, full-frame pixels.")
    c4.metric("Brightness / contrast",
              f"{_num(quality.brightness, '.0f')} / {_num(quality.contrast, '.0f')}",
              help="Median mean gray level and its standard deviation (0-255) of the face crop "
              "before equalisation; — for sessions recorded before they were logged.")
    c5.metric("Low-confidence share", ui.pct(quality.low_confidence_share),
              help=f"Share of face time whose top probability is under {q.LOW_CONFIDENCE:.1f}.")
    series = ui.localise(quality.series, "start")
    if not series.empty:
        ui.chart(series_figure(series, "fps", "Processed frames per second", "frames / s",
                               q.LOW_FPS),
                 "processed frame rate", "session.quality_fps", [subject], session)
        ui.chart(series_figure(series, "face_in_view", "Face in view", "% of the time",
                               q.MIN_FACE_IN_VIEW, 100.0),
                 "face in view over time", "session.quality_face", [subject], session)
    st.caption(HOW_TO_READ)
    stretches = quality.stretches
    if stretches.empty:
        st.caption("No stretch of the recording was flagged.")
    else:
        start = quality.series["start"].iloc[0]
        st.dataframe(pd.DataFrame({
            "reason": stretches["reason"],
            "from": [_clock(t) for t in stretches["start"]],
            "to": [_clock(t) for t in stretches["end"]],
            "s from start": [(t - start).total_seconds() for t in stretches["start"]],
            "seconds": stretches["seconds"],
        }), key="session.quality_stretches", hide_index=True, column_config={
            "s from start": st.column_config.NumberColumn(format="%.0f"),
            "seconds": st.column_config.NumberColumn(format="%.0f"),
        })
    return quality
