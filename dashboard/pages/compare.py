"""Compare: two sessions, two periods of one subject, or one segment label across a subject's
sessions."""

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, segments_ui, ui
from fer_core import analytics as an
from fer_core.analytics.compare import (
    METRIC_KEYS,
    default_periods,
    display_values,
    period_instants,
    sessions_in_period,
)
from fer_core.auth import Perm

auth_ui.require(Perm.VIEW)
subjects = ui.require_data()
st.title("Compare")
names = subjects.sort_values("subject")["subject"].tolist()
subject_fmt = ui.subject_label(subjects)
SEGMENT_MODE = "One segment label across sessions"
MODES = ["Two sessions", "Two periods of one subject", SEGMENT_MODE]
ui.url_setting("compare.mode", "mode", MODES[0], ui.one_of(MODES))
mode = st.radio("Compare", MODES, key="compare.mode", horizontal=True)
ui.to_url(mode=mode)
if mode == SEGMENT_MODE:  # one subject's sessions, the same task in each
    subject = st.session_state[ui.SUBJECT_KEY]
    auth_ui.require(Perm.VIEW, subject)
    auth_ui.log_view("Compare", subject)
    st.caption(f"Subject **{ui.plain(subject)}** (change it in the sidebar).")
    ui.synthetic_badge(bool(subjects.set_index("subject").at[subject, "synthetic"]))
    segments_ui.label_comparison(subject, "compare")
    st.stop()


def pick_session(side: str, default_index: int) -> tuple[str, dict, bool]:
    """Subject + session pickers for one side; returns a label, its summary, synthetic flag.

    The picks are kept in the URL (``?a_subject=&a_session=``), so F5 keeps them; a subject
    from the URL that this account may not see is not among ``names`` and is ignored.
    """
    param = side.lower()
    ui.url_setting(f"compare.{side}.subject", f"{param}_subject",
                   st.session_state[ui.SUBJECT_KEY], ui.one_of(names))
    subject = st.selectbox(f"Subject {side}", names, key=f"compare.{side}.subject",
                           format_func=subject_fmt)
    auth_ui.require(Perm.VIEW, subject)
    shown_subjects.append(subject)
    sessions = loaders.sessions_recorded(subject)
    ids = sessions["session"].tolist()
    key = f"compare.{side}.session"
    ui.url_setting(key, f"{param}_session", ids[min(default_index, len(ids) - 1)],
                   ui.one_of(ids))
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[min(default_index, len(ids) - 1)]
    session_names = ui.session_names(subject)
    session = st.selectbox(f"Session {side}", ids, key=key, format_func=session_names.get)
    ui.to_url(**{f"{param}_subject": subject, f"{param}_session": session})
    table = loaders.history(subject).sessions.set_index("session")
    summary = table.loc[session].to_dict() if session in table.index else {}
    synthetic = bool(sessions.set_index("session").at[session, "synthetic"])
    return f"{subject} · {session_names.get(session, session)}", summary, synthetic


def pick_period(side: str, hist, days, default) -> tuple[str, dict, tuple]:
    """A period of local days (both ends included, as shown); its sessions are those that
    start in it (fer_core.analytics.compare.sessions_in_period), each counted whole."""
    key = f"compare.{side}.period"
    ui.keep_valid(key, ui.in_range(days.min(), days.max()))
    ui.url_setting(key, f"{side.lower()}_period", default,
                   ui.date_range_in(days.min(), days.max()))
    period = st.date_input(f"Period {side}", key=key, min_value=days.min(), max_value=days.max())
    start, end = period if isinstance(period, tuple | list) and len(period) == 2 else default
    ui.to_url(**{f"{side.lower()}_period": ui.date_range_text((start, end))})
    picked = sessions_in_period(hist.sessions, start, end, ui.display_tz())
    counts = hist.counts.loc[hist.counts["session"].isin(picked)]
    bounds = hist.bounds.loc[hist.bounds["session"].isin(picked)]
    return f"{start} to {end}", an.summarise_period(counts, bounds), (start, end)


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
    if days.empty:
        st.info("This subject has no logged frames yet.")
        st.stop()
    default_a, default_b = default_periods(days)  # adjacent and disjoint
    with left:
        name_a, a, period_a = pick_period("A", hist, days, default_a)
    with right:
        name_b, b, period_b = pick_period("B", hist, days, default_b)
    st.caption("A period includes both days shown; a session belongs to the period in which "
               "it starts, so it is counted whole and, in periods that do not overlap, once.")
    if period_a[0] <= period_b[1] and period_b[0] <= period_a[1]:
        st.warning("Periods A and B overlap: sessions in both are counted on both sides.",
                   icon=":material/warning:")
    synthetic = bool(subjects.set_index("subject").at[subject, "synthetic"])
ui.synthetic_badge(synthetic)
auth_ui.log_view("Compare", " ".join(dict.fromkeys(shown_subjects)))

if not a or not b or not a.get("n_face_frames") or not b.get("n_face_frames"):
    st.warning("One side has no frames with a face; pick another session or period.")
    st.stop()
st.markdown(f"**A** = {ui.plain(name_a)} &nbsp;&nbsp; **B** = {ui.plain(name_b)}")
baseline, rule, base_names = {}, "none", []
if len(set(shown_subjects)) == 1:  # a baseline is a person's own: only for one subject
    base_subject = shown_subjects[0]
    base_hist = loaders.history(base_subject)
    listing = loaders.sessions(base_subject)
    chosen = listing.loc[listing["baseline"], "session"].tolist()
    if mode == "Two sessions":
        starts = [a.get("start"), b.get("start")]
        before = min(t for t in starts if t is not None and not pd.isna(t))
    else:
        before = min(period_instants(*p, ui.display_tz())[0] for p in (period_a, period_b))
    baseline, rule = an.baseline_summary(base_hist.sessions, METRIC_KEYS, chosen, before)
    names_of = ui.session_names(base_subject)
    base_names = [names_of.get(s, s) for s in an.chosen_sessions(base_hist.sessions, chosen)]
    st.info(ui.plain(an.rule_text(rule, base_names)
                     + ("" if rule != an.RULE_EARLIER else
                        " Here: the sessions that started before A and B.")),
            icon=":material/flag:")
else:
    st.caption("No baseline column: A and B are different subjects, and a baseline is a "
               "person's own.")
table = an.compare_summaries(a, b, baseline or None)
st.table(display_values(table).set_index("metric"))
st.caption("Shares are % of the time a face was in view; their differences are percentage "
           "points. Valence is a derived estimate from the class probabilities."
           + (" The baseline's recorded time is the mean per baseline session."
              if baseline else ""))
ui.chart(charts.compare_bars(a, b), "shares A vs B", "compare.bars", shown_subjects)

if ui.downloads_heading():
    auth_ui.download_button(st, "Comparison table (CSV)", lambda: table.to_csv(index=False),
                            file_name="comparison.csv", mime="text/csv", key="compare.csv",
                            subjects=shown_subjects, icon=":material/table:")
    for subject in dict.fromkeys(shown_subjects):
        ui.export_buttons(f"compare.{subject}", subject=subject)
