"""Compare: two sessions, two periods of one subject, or one segment label across a subject's
sessions."""

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, segments_ui, ui
from fer_core import analytics as an
from fer_core.analytics.compare import display_values
from fer_core.auth import Perm

auth_ui.require(Perm.VIEW)
subjects = ui.require_data()
st.title("Compare")
names = subjects.sort_values("subject")["subject"].tolist()
subject_fmt = ui.subject_label(subjects)
st.session_state.setdefault("compare.mode", "Two sessions")
SEGMENT_MODE = "One segment label across sessions"
mode = st.radio("Compare", ["Two sessions", "Two periods of one subject", SEGMENT_MODE],
                key="compare.mode", horizontal=True)
if mode == SEGMENT_MODE:  # one subject's sessions, the same task in each
    subject = st.session_state[ui.SUBJECT_KEY]
    auth_ui.require(Perm.VIEW, subject)
    auth_ui.log_view("Compare", subject)
    st.caption(f"Subject **{ui.plain(subject)}** (change it in the sidebar).")
    ui.synthetic_badge(bool(subjects.set_index("subject").at[subject, "synthetic"]))
    segments_ui.label_comparison(subject, "compare")
    st.stop()


def pick_session(side: str, default_index: int) -> tuple[str, dict, bool]:
    """Subject + session pickers for one side; returns a label, its summary, synthetic flag."""
    st.session_state.setdefault(f"compare.{side}.subject", st.session_state[ui.SUBJECT_KEY])
    subject = st.selectbox(f"Subject {side}", names, key=f"compare.{side}.subject",
                           format_func=subject_fmt)
    auth_ui.require(Perm.VIEW, subject)
    shown_subjects.append(subject)
    sessions = loaders.sessions_recorded(subject)
    ids = sessions["session"].tolist()
    key = f"compare.{side}.session"
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[min(default_index, len(ids) - 1)]
    session = st.selectbox(f"Session {side}", ids, key=key,
                           format_func=ui.session_label(sessions))
    table = loaders.history(subject).sessions.set_index("session")
    summary = table.loc[session].to_dict() if session in table.index else {}
    synthetic = bool(sessions.set_index("session").at[session, "synthetic"])
    return f"{subject} {ui.fmt_time(summary.get('start'))}", summary, synthetic


def pick_period(side: str, subject: str, hist, days, default) -> tuple[str, dict]:
    key = f"compare.{side}.period"
    st.session_state.setdefault(key, default)
    period = st.date_input(f"Period {side}", key=key, min_value=days.min(), max_value=days.max())
    start, end = period if isinstance(period, tuple | list) and len(period) == 2 else default
    tz = ui.display_tz()
    counts = an.filter_counts(hist.counts, start, end, tz)
    bounds = hist.bounds.loc[hist.bounds["session"].isin(counts["session"])]
    return f"{start} to {end}", an.summarise_period(counts, bounds)


shown_subjects: list[str] = []
left, right = st.columns(2)
if mode == "Two sessions":
    with left:
        name_a, a, syn_a = pick_session("A", 1)
    with right:
        name_b, b, syn_b = pick_session("B", 0)
    synthetic = syn_a or syn_b
    picked = [(st.session_state[f"compare.{x}.subject"], st.session_state[f"compare.{x}.session"])
              for x in "AB"]
    listed = pd.concat([loaders.sessions(subj) for subj in dict.fromkeys(shown_subjects)],
                       ignore_index=True)
    ui.damage_notice(listed.loc[[(r.subject, r.session) in picked
                                 for r in listed.itertuples()]])
    if picked[0] == picked[1]:  # e.g. a subject with one session: nothing to compare yet
        only_one = len(loaders.sessions(picked[0][0])) < 2
        st.info("A and B are the same session. Choose another session or subject for one side"
                + (" (this subject has only one session so far)." if only_one else "."),
                icon=":material/compare_arrows:")
        st.stop()
else:
    subject = st.session_state[ui.SUBJECT_KEY]
    auth_ui.require(Perm.VIEW, subject)
    shown_subjects.append(subject)
    st.caption(f"Subject **{ui.plain(subject)}** (change it in the sidebar).")
    ui.damage_notice(loaders.sessions(subject))
    hist = loaders.history(subject)
    days = hist.sessions["start"].dt.tz_convert(ui.display_tz()).dt.date
    middle = days.iloc[len(days) // 2] if len(days) else None
    with left:
        name_a, a = pick_period("A", subject, hist, days, (days.min(), middle))
    with right:
        name_b, b = pick_period("B", subject, hist, days, (middle, days.max()))
    synthetic = bool(subjects.set_index("subject").at[subject, "synthetic"])
ui.synthetic_badge(synthetic)
auth_ui.log_view("Compare", " ".join(dict.fromkeys(shown_subjects)))

if not a or not b or not a.get("n_face_frames") or not b.get("n_face_frames"):
    st.warning("One side has no frames with a face; pick another session or period.")
    st.stop()
st.markdown(f"**A** = {ui.plain(name_a)} &nbsp;&nbsp; **B** = {ui.plain(name_b)}")
table = an.compare_summaries(a, b)
st.table(display_values(table).set_index("metric"))
st.caption("Shares are % of the time a face was in view; their differences are percentage "
           "points. Valence is a derived estimate from the class probabilities.")
ui.chart(charts.compare_bars(a, b), "shares A vs B", "compare.bars", shown_subjects)

if ui.downloads_heading():
    auth_ui.download_button(st, "Comparison table (CSV)", lambda: table.to_csv(index=False),
                            file_name="comparison.csv", mime="text/csv", key="compare.csv",
                            subjects=shown_subjects, icon=":material/table:")
    for subject in dict.fromkeys(shown_subjects):
        ui.export_buttons(f"compare.{subject}", subject=subject)
