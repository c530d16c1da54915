"""Session summary: probabilities over time, ethogram, headline numbers, transitions, segments."""

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, quality_ui, reports, segments_ui, ui
from fer_core import analytics as an
from fer_core.auth import Perm
from fer_core.central.background import publish_later

auth_ui.require(Perm.VIEW)
ui.require_data()
subject, session = st.session_state[ui.SUBJECT_KEY], st.session_state[ui.SESSION_KEY]
auth_ui.require(Perm.VIEW, subject)
auth_ui.log_view("Session summary", subject, session)
st.title(f"Session — {ui.plain(subject)}")
this = loaders.sessions(subject)
ui.damage_notice(this.loc[this["session"] == session])
try:
    meta = loaders.session_meta(subject, session)
except LookupError:  # metadata missing or unreadable: named above, nothing else to show
    st.info("This session's metadata cannot be read, so it is not shown.")
    st.stop()
# the label is typed by a user: plain text, never markdown (no images, links or colours)
st.caption(f"{ui.fmt_time(meta.started_at)} · session `{session}`"
           + (f" · {ui.plain(meta.label)}" if meta.label else "")
           + (" · chosen baseline session" if meta.baseline else ""))
ui.synthetic_badge(meta.synthetic)
listed = this.loc[this["session"] == session, "n_rows"]
n_rows = int(listed.iloc[0]) if len(listed) else 0
view = loaders.session_view(subject, session, n_rows)
rows = view.rows  # every row, or (a long session) the primary row of every step-th frame
if rows.empty:
    st.info("This session has no logged frames yet.")
    st.stop()

ui.url_setting("session.window_s", "smooth", 2.0, ui.number_in(0.0, 30.0, 0.5))
st.session_state.setdefault("session.show_raw", False)
left, right = st.columns([3, 1])
window_s = left.slider("Smoothing window (s)", 0.0, 30.0, key="session.window_s", step=0.5,
                       help="Centred moving average of the probabilities; 0 shows raw values.")
ui.to_url(smooth=f"{window_s:g}")  # F5 keeps the window
show_raw = right.toggle("Raw probability lines", key="session.show_raw",
                        help="Also show the model's seven probabilities frame by frame, as "
                             "lines (hard to read over many minutes).")
s = view.summary  # of all rows, whether or not the charts are downsampled
if view.downsampled:
    st.info(f"Long session ({view.n_rows:,} rows): the charts, transitions and peaks are drawn "
            f"from every {view.step}th frame ({len(rows):,} frames) to keep the page light; "
            "the figures above the charts and the share of time per expression are computed "
            "from all rows.", icon=":material/speed:")
sampled = f" (every {view.step}th frame)" if view.downsampled else ""
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Duration", ui.fmt_duration(s["duration_s"]))
c2.metric("Face in view", ui.pct(s["face_in_view"]))
c3.metric("Dominant expression", s["dominant"] or "—")
c4.metric("Negative-affect share", ui.pct(s["negative_share"]))
c5.metric("Mean confidence", f"{s['mean_confidence']:.2f}")

FLICKER_S = 0.1  # runs shorter than this are model flicker, not a change of expression
segments = meta.sorted_segments()  # task segments: on every time chart and in their table
# charts draw wall-clock time: in the zone the sidebar states
# the analytics of the frames are cached per session (loaders), so reopening the page or
# saving a note does not recompute them
# 800 points: finer than a pixel pair on a wide chart, and half the browser's drawing of 1500
TIMELINE_POINTS = 800
tl = ui.localise(loaders.session_timeline(subject, session, n_rows, window_s, TIMELINE_POINTS),
                 "timestamp")
runs = ui.localise(loaders.session_ethogram(
    subject, session, n_rows, max(window_s / 2, tl.attrs["bin_s"])), "start", "end")
figs = {"expressions over time": charts.shares_area(
    tl, segments, f"Expressions over time, smoothed over {window_s:g} s" + sampled)}
if show_raw:
    tl_raw = ui.localise(loaders.session_timeline(subject, session, n_rows, 0.0, 3000),
                         "timestamp")
    raw_note = (f" (averaged in {tl_raw.attrs['bin_s']:g} s bins to keep the chart light)"
                if tl_raw.attrs["bin_s"] else "")
    figs["probabilities (raw)"] = charts.probability_timeline(
        tl_raw, segments, "Class probabilities over time, raw" + sampled + raw_note)
figs |= {
    "ethogram": charts.ethogram(runs, "Ethogram: dominant expression" + sampled, segments),
    "valence (derived estimate)": charts.valence_timeline(tl, segments),
    "share of time per expression": charts.shares_bar(view.shares),
    "transitions": charts.transition_matrix(
        loaders.session_transitions(subject, session, n_rows, FLICKER_S),
        "Transitions between expressions" + sampled),
}
# one time axis for every time chart: same range, same margins, legends below
charts.align_time_axes([figs[n] for n in ("expressions over time", "probabilities (raw)",
                                          "ethogram", "valence (derived estimate)") if n in figs],
                       charts.time_range(tl["timestamp"], runs["end"]))
if sampled:
    valence_fig = figs["valence (derived estimate)"]
    valence_fig.update_layout(title=f"{valence_fig.layout.title.text}{sampled}")
for name, fig in figs.items():
    ui.chart(fig, name, f"session.{ui.slug(name)}", [subject], session,
             **segments_ui.chart_select(name, subject, fig))  # drag on the raw chart: a segment
st.caption("Transitions count changes of the predicted expression between frames with a face, "
           f"ignoring flickers shorter than {FLICKER_S:g} s. Valence is a derived "
           "estimate from the class probabilities (see docs/dashboard.md).")

st.subheader("Per expression")
per_class = pd.DataFrame({
    "share of face time (%)": [100 * s[f"share_{c}"] for c in an.CLASSES],
    "mean confidence": [s[f"confidence_{c}"] for c in an.CLASSES],
}, index=list(an.CLASSES))
peaks = loaders.session_peaks(subject, session, n_rows, window_s).set_index("class")
PEAK = "peak of smoothed probability"
per_class[PEAK] = peaks["peak"]
per_class["peak at (s from start)"] = peaks["offset_s"]
st.dataframe(per_class, key="session.per_class", column_config={
    "share of face time (%)": st.column_config.NumberColumn(format="%.1f"),
    "mean confidence": st.column_config.NumberColumn(format="%.2f"),
    PEAK: st.column_config.NumberColumn(
        format="%.2f", help=f"Highest value of the smoothed curve ({window_s:g}-s window, as "
        "in the chart above), so it can lie below the mean confidence, which averages the "
        "raw per-frame probabilities of the frames labelled with this expression."),
    "peak at (s from start)": st.column_config.NumberColumn(format="%.1f"),
})

quality = quality_ui.quality_section(subject, session)  # recording quality (issue 19, item 3)

segments_ui.session_segments(subject, session, meta, n_rows, s["start"],
                             f" Drawn from every {view.step}th frame." if sampled else "")

st.subheader("Notes")
can_annotate = auth_ui.may(Perm.ANNOTATE, subject)  # viewers: read-only
if not can_annotate:
    st.caption(f"Read-only: your account ({auth_ui.current().role}) may read notes "
               "but not change them.")


# Saving runs in the button's callback, before the page's next run: the page then draws once,
# already showing the change (saving in the script and calling st.rerun drew it twice).
def _save_notes(subject: str, session: str) -> None:
    auth_ui.require(Perm.ANNOTATE, subject)
    notes = st.session_state["session.notes"]
    if notes == loaders.session_meta(subject, session).notes:
        return
    loaders.store().update_notes(subject, session, notes)
    auth_ui.audit("annotate", f"subject={subject} session={session}", field="notes")
    publish_later(loaders.store().root, subject, session)  # the central row follows the edit
    st.toast("Notes saved")


st.session_state.setdefault("session.notes", meta.notes)
st.text_area("Notes", key="session.notes", disabled=not can_annotate)
st.button("Save notes", key="session.save_notes", disabled=not can_annotate,
          on_click=_save_notes, args=(subject, session))

if ui.downloads_heading():
    # the zone read now, in the page's run: the report is made on click, outside it (reports.py)
    tz = ui.display_tz()
    extra = {"quality": quality.verdict, "segment_figures": reports.segment_figures_table(
        loaders.segment_figures(subject, session, n_rows), tz) if meta.segments else None}
    for fmt, mime, render in (("pdf", "application/pdf", reports.session_report_pdf),
                              ("html", "text/html", reports.session_report)):
        auth_ui.download_button(
            st, f"Printable session report ({fmt.upper()})", key=f"session.report_{fmt}",
            subjects=[subject], session=session,
            data=lambda render=render: render(subject, meta, s, figs, window_s, tz, **extra),
            file_name=reports.report_file_name(fmt, subject, session), mime=mime,
            icon=":material/print:",
        )
    ui.export_buttons("session", subject=subject, session=session)
