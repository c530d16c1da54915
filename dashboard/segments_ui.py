"""Task segments on the pages: the Session summary's segment table and forms, the Record
page's buttons, and "one segment label across sessions" for Subject history and Compare.

Why one module: the three pages show the same segments with the same columns and audit every
change the same way (``annotate``, ``field="segment"``); the figures themselves come from
:mod:`fer_core.measures.segments` and the store, never from here.
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, ui
from dashboard.plaintext import plain, say
from fer_core import analytics as an
from fer_core.analytics.segments import segment_label_counts
from fer_core.auth import Perm
from fer_core.central.background import publish_later
from fer_core.logstore import Segment, SegmentError, SessionMeta

SHARE_COLUMNS = [f"share_{c}" for c in an.CLASSES]
#: The Session summary chart on which box-selecting a stretch fills the "Add a segment" form.
SELECT_CHART = "expressions over time"  # the main timeline, always shown
_SELECT_STATE = f"session.{ui.slug(SELECT_CHART)}.chart"  # its key (dashboard.ui.chart)
_APPLIED = "session.segment_applied_box"


def chart_select(name: str, subject: str, fig) -> dict:
    """``st.plotly_chart`` selection arguments for the chart ``name`` of the Session summary:
    box selection on :data:`SELECT_CHART` for accounts that may annotate (a drag draws the box;
    the modebar still zooms), none elsewhere."""
    if name != SELECT_CHART or not auth_ui.may(Perm.ANNOTATE, subject):
        return {}
    fig.update_layout(dragmode="select", selectdirection="h")
    return {"on_select": "rerun", "selection_mode": "box"}


def _selected_stretch(origin: pd.Timestamp) -> tuple[float, float] | None:
    """Seconds from ``origin`` of the last box drawn on :data:`SELECT_CHART` (None: none).

    The chart draws wall-clock time in the page's zone without the zone (plotly has none), so
    the box's ends are read back in that zone."""
    event = st.session_state.get(_SELECT_STATE) or {}
    boxes = (event.get("selection") or {}).get("box") or []
    xs = boxes[-1].get("x") if boxes else None
    if not xs or len(xs) < 2:
        return None
    try:
        ends = sorted(pd.Timestamp(x) for x in xs[:2])
    except (TypeError, ValueError):
        return None
    ends = [t.tz_localize(ui.display_tz()) if t.tzinfo is None else t for t in ends]
    return tuple(round(max((t - origin).total_seconds(), 0.0), 1) for t in ends)


def _clock(ts) -> str:
    """Wall-clock time to the second, in the page's zone (segments are seconds apart)."""
    return "—" if ts is None or pd.isna(ts) else ui.local(ts).strftime("%H:%M:%S")


def _audit(subject: str, session: str, op: str, segment: Segment) -> None:
    auth_ui.audit("annotate", f"subject={subject} session={session}", field="segment", op=op,
                  segment=segment.id)


#: The end cell of a point marker (it has no stretch, hence no figures).
POINT = "point marker"


def figures_table(figures: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """The segment table as shown: times in the page's zone, seconds from the first frame,
    shares in % (a dataframe cell shows text as it is: no escaping needed). A point marker's
    end reads "point marker", which says why its figure cells are empty."""
    return pd.DataFrame({
        "label": figures["label"],
        "start": [_clock(v) for v in figures["start"]],
        "end": [POINT if v is None or pd.isna(v) else _clock(v) for v in figures["end"]],
        "s from start": [(pd.Timestamp(v) - origin).total_seconds() for v in figures["start"]],
        "duration (s)": figures["duration_s"],
        "face in view": 100 * figures["face_in_view"],
        **{c: 100 * figures[f"share_{c}"] for c in an.CLASSES},
        "valence (derived)": figures["mean_valence"],
        "mean confidence": figures["mean_confidence"],
    })


def _column_config() -> dict:
    return {
        "s from start": st.column_config.NumberColumn(format="%.1f"),
        "duration (s)": st.column_config.NumberColumn(format="%.1f"),
        "face in view": st.column_config.NumberColumn(format="%.0f%%"),
        **{c: st.column_config.NumberColumn(format="%.0f%%") for c in an.CLASSES},
        "valence (derived)": st.column_config.NumberColumn(format="%.2f"),
        "mean confidence": st.column_config.NumberColumn(format="%.2f"),
    }


def _choice_text(seg: Segment, origin: pd.Timestamp) -> str:
    start = (pd.Timestamp(seg.start) - origin).total_seconds()
    if seg.end is None:
        return f"{seg.label} · {start:.1f} s (point)"
    return f"{seg.label} · {start:.1f}-{(pd.Timestamp(seg.end) - origin).total_seconds():.1f} s"


def session_segments(subject: str, session: str, meta: SessionMeta, n_rows: int,
                     origin: pd.Timestamp, note: str = "") -> None:
    """The Session summary's "Task segments" part: the table of every segment with its figures,
    then (for accounts that may annotate) forms to add one by time and to edit or delete one.
    ``n_rows``: the session's rows (from its listing, as for ``loaders.session_view``);
    ``origin``: the session's first frame, the zero of every "s from start"."""
    st.subheader("Task segments")
    segments = meta.sorted_segments()
    if segments:
        figures = loaders.segment_figures(subject, session, n_rows)
        st.dataframe(figures_table(figures, origin), key="session.segments", hide_index=True,
                     column_config=_column_config())
        st.caption("Each interval's figures are the session's, computed over the frames inside "
                   "it (time weighted; shares are % of the time a face was in view). A point "
                   f"marker has none. Times in {ui.display_tz()}." + note)
    else:
        st.caption("No segments yet. A segment is a labelled stretch of the session (a task, "
                   "a stimulus); with no end it is a point marker.")
    if not auth_ui.may(Perm.ANNOTATE, subject):
        st.caption(f"Read-only: your account ({auth_ui.current().role}) may read segments "
                   "but not change them.")
        return
    _add_form(subject, session, meta, origin)
    if segments:
        _edit_form(subject, session, segments, origin)


def _times(origin: pd.Timestamp, start_s: float, end_s: float | None):
    start = (origin + pd.Timedelta(seconds=float(start_s))).to_pydatetime()
    end = None if end_s is None else (origin + pd.Timedelta(seconds=float(end_s))).to_pydatetime()
    return start, end


def _add_form(subject: str, session: str, meta: SessionMeta, origin: pd.Timestamp) -> None:
    st.markdown("**Add a segment**")
    stretch = _selected_stretch(origin)
    if stretch is not None and stretch != st.session_state.get(_APPLIED):
        # a new box on the chart: its ends become the form's (before the widgets exist)
        st.session_state[_APPLIED] = stretch
        st.session_state["session.segment_start"], st.session_state["session.segment_end"] = (
            stretch)
    st.caption("Type the times, or drag a box over the 'Expressions over time' chart to "
               "fill them.")
    c1, c2, c3 = st.columns([1, 1, 2])
    # the values are read from the session state by the button's callback (_add_segment)
    c1.number_input("Start (s from start)", min_value=0.0, step=1.0, format="%.1f",
                    key="session.segment_start")
    c2.number_input("End (s from start)", min_value=0.0, step=1.0, format="%.1f", value=None,
                    key="session.segment_end", help="Leave empty for a point marker.")
    label = c3.text_input("Segment label", key="session.segment_label", max_chars=200,
                          placeholder="e.g. stimulus A")
    st.button("Add segment", key="session.add_segment", disabled=not label.strip(),
              help="Type a label first.", on_click=_add_segment, args=(subject, session, origin))
    if (problem := st.session_state.pop(_ADD_ERROR, None)) is not None:
        say(st, "error", f"Not added: {problem}")


#: Session-state key of the last add's refusal, shown by the form on the next run.
_ADD_ERROR = "session.segment_add_error"


def _add_segment(subject: str, session: str, origin: pd.Timestamp) -> None:
    """The *Add segment* button's callback. Why a callback: it runs before the page's next
    run, which then draws the new segment once (saving in the script and calling ``st.rerun``
    drew the whole page twice, about 0.5 s more on 2 cores)."""
    auth_ui.require(Perm.ANNOTATE, subject)
    state = st.session_state
    start, end = _times(origin, state["session.segment_start"], state.get("session.segment_end"))
    known = {s.id for s in loaders.store().session_meta(subject, session).segments}
    try:
        seg = loaders.store().add_segment(subject, session, state["session.segment_label"],
                                          start, end)
    except SegmentError as exc:
        state[_ADD_ERROR] = str(exc)
        return
    if seg.id in known:  # the same label and times again (a second click): nothing new
        st.toast("That segment is already there")
        return
    _audit(subject, session, "add", seg)
    publish_later(loaders.store().root, subject, session)
    st.toast("Segment added")


def _edit_form(subject: str, session: str, segments: list[Segment],
               origin: pd.Timestamp) -> None:
    st.markdown("**Edit or delete a segment**")
    by_id = {s.id: s for s in segments}
    if st.session_state.get("session.segment_pick") not in by_id:
        st.session_state["session.segment_pick"] = segments[0].id
    picked = st.selectbox("Segment", list(by_id), key="session.segment_pick",
                          format_func=lambda i: _choice_text(by_id[i], origin))
    seg = by_id[picked]
    c1, c2, c3 = st.columns([1, 1, 2])
    # keys carry the id: picking another segment shows that one's values
    start_s = c1.number_input("New start (s from start)", step=1.0, format="%.1f",
                              value=(pd.Timestamp(seg.start) - origin).total_seconds(),
                              key=f"session.edit_start.{seg.id}")
    end_s = c2.number_input("New end (s from start)", step=1.0, format="%.1f",
                            value=None if seg.end is None
                            else (pd.Timestamp(seg.end) - origin).total_seconds(),
                            key=f"session.edit_end.{seg.id}",
                            help="Empty: a point marker.")
    label = c3.text_input("New label", value=seg.label, max_chars=200,
                          key=f"session.edit_label.{seg.id}")
    save, delete, _ = st.columns([1, 1, 3])
    if save.button("Save segment", key="session.save_segment"):
        auth_ui.require(Perm.ANNOTATE, subject)
        start, end = _times(origin, start_s, end_s)
        try:
            changed = loaders.store().update_segment(subject, session, seg.id, label=label,
                                                     start=start, end=end)
        except SegmentError as exc:
            say(st, "error", f"Not saved: {exc}")
            return
        _audit(subject, session, "edit", changed)
        publish_later(loaders.store().root, subject, session)
        st.toast("Segment saved")
        st.rerun()
    if delete.button("Delete segment", key="session.delete_segment"):
        auth_ui.require(Perm.ANNOTATE, subject)
        try:
            loaders.store().delete_segment(subject, session, seg.id)
        except SegmentError as exc:  # deleted meanwhile in another tab
            say(st, "error", f"Not deleted: {exc}")
            return
        _audit(subject, session, "delete", seg)
        publish_later(loaders.store().root, subject, session)
        st.toast("Segment deleted")
        st.rerun()


def label_comparison(subject: str, key: str) -> tuple[str, pd.DataFrame] | None:
    """"One segment label across sessions" for one subject: pick a label its sessions have,
    then a table and charts of that label's figures per session. Returns the picked label and
    its per-session figures (for the subject report), or None when there is nothing to show."""
    metas = loaders.segment_metas(subject)
    labels = segment_label_counts(metas)
    if labels.empty:
        st.caption("None of this subject's sessions has a task segment with an end yet (add "
                   "them on the Session summary or while recording).")
        return None
    counts = dict(zip(labels["label"], labels["n_sessions"], strict=True))
    pick_key = f"{key}.segment_label"
    if st.session_state.get(pick_key) not in counts:
        st.session_state[pick_key] = labels["label"].iloc[0]
    label = st.selectbox("Segment label", list(counts), key=pick_key,
                         format_func=lambda v: f"{v} ({counts[v]} session"
                                               f"{'s' if counts[v] != 1 else ''})")
    table = loaders.label_across(subject, label)
    if table.empty:
        st.info("No frames were recorded inside this label's segments.")
        return None
    shown = pd.DataFrame({
        "session start": [ui.fmt_time(t) for t in table["started_at"]],
        "session": table["session"],
        "segments": table["n_segments"],
        "duration (s)": table["duration_s"],
        "face in view": 100 * table["face_in_view"],
        **{c: 100 * table[f"share_{c}"] for c in an.CLASSES},
        "valence (derived)": table["mean_valence"],
        "mean confidence": table["mean_confidence"],
    })
    st.dataframe(shown, key=f"{key}.segment_table", hide_index=True,
                 column_config=_column_config())
    title = html.escape(label)  # plotly renders a subset of HTML in titles
    trend = table.rename(columns={f"share_{c}": c for c in an.CLASSES})
    trend = trend.assign(x=pd.to_datetime(trend["started_at"], utc=True).dt.tz_convert(
        ui.display_tz()))
    ui.chart(charts.stacked_shares(trend, "x", f"Expression shares in “{title}” per session",
                                   "session start"),
             "segment shares per session", f"{key}.segment_stacked", [subject])
    ui.chart(charts.class_lines(trend, "x", f"Share of each expression in “{title}”",
                                "session start"),
             "segment share of each expression", f"{key}.segment_lines", [subject])
    st.caption("Several segments with this label in one session are pooled; shares are % of "
               "the time a face was in view inside them.")
    return label, table


def recording_controls(recorder, container, subject: str) -> None:
    """The Record page's segment buttons while recording: a label, "Mark now" (a point),
    "Start segment" (ends an open one) and "End segment"; each stamped now on the session's
    clock through the recorder and audited."""
    if not auth_ui.may(Perm.ANNOTATE, subject):
        return
    box = container.container(border=True)
    label = box.text_input("Segment label", key="record.segment_label", max_chars=200,
                           placeholder="e.g. stimulus A")
    open_seg = recorder.open_segment
    c1, c2 = box.columns(2)  # two to a row: three side by side cut their labels short
    start = c1.button("Start segment", key="record.start_segment", disabled=not label.strip(),
                      width="stretch")
    end = c2.button("End segment", key="record.end_segment", disabled=open_seg is None,
                    width="stretch")
    mark = c1.button("Mark now", key="record.mark_now", disabled=not label.strip(),
                     width="stretch")
    session = recorder.session_id
    try:
        if mark and session:
            _audit(*session, "mark", recorder.mark(label))
            box.caption(f"Marked “{plain(label.strip())}”.")
        elif start and session:
            seg, ended = recorder.start_segment(label)
            if ended is not None:
                _audit(*session, "end", ended)
            _audit(*session, "start", seg)
        elif end and session and (ended := recorder.end_segment()) is not None:
            _audit(*session, "end", ended)
        elif (mark or start) and not session:
            box.caption("Waiting for the first frame: try again in a moment.")
    except (SegmentError, RuntimeError) as exc:
        say(box, "error", str(exc))
    open_seg = recorder.open_segment
    if open_seg is not None:
        box.caption(f"Open segment: “{plain(open_seg.label)}” since "
                    f"{_clock(open_seg.start)}.")
