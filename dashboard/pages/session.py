"""Session summary: probabilities over time, ethogram, headline numbers, transitions, markers."""

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, reports, ui
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
           + (f" · {ui.plain(meta.label)}" if meta.label else ""))
ui.synthetic_badge(meta.synthetic)
listed = this.loc[this["session"] == session, "n_rows"]
n_rows = int(listed.iloc[0]) if len(listed) else 0
view = loaders.session_view(subject, session, n_rows)
rows = view.rows  # every row, or (a long session) the primary row of every step-th frame
if rows.empty:
    st.info("This session has no logged frames yet.")
    st.stop()

st.session_state.setdefault("session.window_s", 2.0)
st.session_state.setdefault("session.show_raw", False)
left, right = st.columns([3, 1])
window_s = left.slider("Smoothing window (s)", 0.0, 30.0, key="session.window_s", step=0.5,
                       help="Centred moving average of the probabilities; 0 shows raw values.")
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
span_s = (s["end"] - s["start"]).total_seconds()  # wall clock, for placing markers
# charts draw wall-clock time: in the zone the sidebar states
# the analytics of the frames are cached per session (loaders), so reopening the page or
# saving a note does not recompute them
# 800 points: finer than a pixel pair on a wide chart, and half the browser's drawing of 1500
TIMELINE_POINTS = 800
tl = ui.localise(loaders.session_timeline(subject, session, n_rows, window_s, TIMELINE_POINTS),
                 "timestamp")
segments = ui.localise(loaders.session_ethogram(
    subject, session, n_rows, max(window_s / 2, tl.attrs["bin_s"])), "start", "end")
figs = {"expressions over time": charts.shares_area(
    tl, meta.markers, f"Expressions over time, smoothed over {window_s:g} s" + sampled)}
if show_raw:
    tl_raw = ui.localise(loaders.session_timeline(subject, session, n_rows, 0.0, 3000),
                         "timestamp")
    raw_note = (f" (averaged in {tl_raw.attrs['bin_s']:g} s bins to keep the chart light)"
                if tl_raw.attrs["bin_s"] else "")
    figs["probabilities (raw)"] = charts.probability_timeline(
        tl_raw, meta.markers, "Class probabilities over time, raw" + sampled + raw_note)
figs |= {
    "ethogram": charts.ethogram(segments, "Ethogram: dominant expression" + sampled),
    "valence (derived estimate)": charts.valence_timeline(tl, meta.markers),
    "share of time per expression": charts.shares_bar(view.shares),
    "transitions": charts.transition_matrix(
        loaders.session_transitions(subject, session, n_rows, FLICKER_S),
        "Transitions between expressions" + sampled),
}
# one time axis for every time chart: same range, same margins, legends below
charts.align_time_axes([figs[n] for n in ("expressions over time", "probabilities (raw)",
                                          "ethogram", "valence (derived estimate)") if n in figs],
                       charts.time_range(tl["timestamp"], segments["end"]))
if sampled:
    valence_fig = figs["valence (derived estimate)"]
    valence_fig.update_layout(title=f"{valence_fig.layout.title.text}{sampled}")
for name, fig in figs.items():
    ui.chart(fig, name, f"session.{ui.slug(name)}", [subject], session)
st.caption("Transitions count changes of the predicted expression between frames with a face, "
           f"ignoring flickers shorter than {FLICKER_S:g} s. Valence is a derived "
           "estimate from the class probabilities (see docs/dashboard.md).")

st.subheader("Per expression")
per_class = pd.DataFrame({
    "share of face time (%)": [100 * s[f"share_{c}"] for c in an.CLASSES],
    "mean confidence": [s[f"confidence_{c}"] for c in an.CLASSES],
}, index=list(an.CLASSES))
peaks = loaders.session_peaks(subject, session, n_rows, window_s).set_index("class")
per_class["peak probability"] = peaks["peak"]
per_class["peak at (s from start)"] = peaks["offset_s"]
st.dataframe(per_class, key="session.per_class", column_config={
    "share of face time (%)": st.column_config.NumberColumn(format="%.1f"),
    "mean confidence": st.column_config.NumberColumn(format="%.2f"),
    "peak probability": st.column_config.NumberColumn(format="%.2f"),
    "peak at (s from start)": st.column_config.NumberColumn(format="%.1f"),
})

st.subheader("Notes and event markers")
can_annotate = auth_ui.may(Perm.ANNOTATE, subject)  # viewers: read-only
if not can_annotate:
    st.caption(f"Read-only: your account ({auth_ui.current().role}) may read notes and markers "
               "but not change them.")


# Saving runs in the buttons' callbacks, before the page's next run: the page then draws once,
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


def _add_marker(subject: str, session: str, start: pd.Timestamp) -> None:
    label = st.session_state["session.marker_label"].strip()
    if not label:
        return
    auth_ui.require(Perm.ANNOTATE, subject)
    auth_ui.audit("annotate", f"subject={subject} session={session}", field="marker")
    loaders.store().add_marker(subject, session, label, start.to_pydatetime() + pd.Timedelta(
        seconds=st.session_state["session.marker_offset"]))
    publish_later(loaders.store().root, subject, session)


st.session_state.setdefault("session.notes", meta.notes)
st.text_area("Notes", key="session.notes", disabled=not can_annotate)
st.button("Save notes", key="session.save_notes", disabled=not can_annotate,
          on_click=_save_notes, args=(subject, session))
left, right = st.columns([1, 2])
left.number_input("Marker at (s from start)", 0.0, max(span_s, 0.0),
                  key="session.marker_offset", step=1.0, disabled=not can_annotate)
label = right.text_input("Marker label", key="session.marker_label", placeholder="e.g. task 2",
                         disabled=not can_annotate)
st.button("Add marker", key="session.add_marker", disabled=not label.strip() or not can_annotate,
          help="Type a marker label first." if can_annotate else None,
          on_click=_add_marker, args=(subject, session, s["start"]))
if meta.markers:
    offsets = [(pd.Timestamp(m.timestamp) - s["start"]).total_seconds() for m in meta.markers]
    st.table(pd.DataFrame({"time": [ui.fmt_time(m.timestamp) for m in meta.markers],
                           "s from start": [f"{o:.1f}" for o in offsets],
                           "label": [ui.plain(m.label) for m in meta.markers]}))  # st.table
    # renders Markdown in cells: a typed label stays plain text

if ui.downloads_heading():
    auth_ui.download_button(
        st, "Printable session report (HTML)", key="session.report", subjects=[subject],
        session=session, data=lambda: reports.session_report(subject, meta, s, figs, window_s),
        file_name=f"report_{subject}_{session}.html", mime="text/html",
        icon=":material/print:",
    )
    ui.export_buttons("session", subject=subject, session=session)
