"""Subject history: shares, trends and derived valence against the baseline, time of day,
observations, and the sessions table (filter, sort, open a session)."""

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, reports, segments_ui, ui
from fer_core import analytics as an
from fer_core.analytics import session_list as sl
from fer_core.analytics.compare import sessions_in_period
from fer_core.auth import Perm

auth_ui.require(Perm.VIEW)
subjects = ui.require_data()
subject = st.session_state[ui.SUBJECT_KEY]
auth_ui.require(Perm.VIEW, subject)
auth_ui.log_view("Subject history", subject)
synthetic = bool(subjects.set_index("subject").at[subject, "synthetic"])
st.title(f"Subject history — {ui.plain(subject)}")
ui.synthetic_badge(synthetic)
listing = loaders.sessions(subject)
ui.damage_notice(listing)

hist = loaders.history(subject)
tz = ui.display_tz()
if hist.sessions.empty:
    st.info("This subject has no logged frames yet.")
    st.stop()

every = sl.session_list(hist.sessions, listing, tz)  # oldest first, with names and baseline
names = dict(zip(every["session"], every["name"], strict=True))
days = every["start"].dt.tz_convert(tz).dt.date
first_day, last_day = days.min(), days.max()
ui.keep_valid("history.period", ui.in_range(first_day, last_day))
ui.url_setting("history.period", "period", (first_day, last_day),
               ui.date_range_in(first_day, last_day))
ui.url_setting("history.by", "per", "session", ui.one_of(["session", "day"]))
left, right = st.columns([2, 1])
period = left.date_input("Period", key="history.period", min_value=first_day,
                         max_value=last_day)
by = right.radio("Trend per", ["session", "day"], key="history.by", horizontal=True)
start, end = (period if isinstance(period, tuple | list) and len(period) == 2
              else (first_day, last_day))
ui.to_url(per=by, period=ui.date_range_text((start, end)))
in_period = sessions_in_period(every, start, end, tz)  # by start: a session counts whole
counts = hist.counts.loc[hist.counts["session"].isin(in_period)]
table = every.loc[every["session"].isin(in_period)].reset_index(drop=True)
bounds = hist.bounds.loc[hist.bounds["session"].isin(in_period)]
summary = an.summarise_period(counts, bounds)

# ---- the baseline in use -------------------------------------------------------------------
chosen = every.loc[every["baseline"], "session"].tolist()
rule = an.RULE_CHOSEN if chosen else an.RULE_EARLIER
st.info(ui.plain(an.rule_text(rule, [names[s] for s in chosen])), icon=":material/flag:")
if auth_ui.may(Perm.ANNOTATE, subject):
    with st.expander("Choose the baseline sessions"):
        ids = every["session"].tolist()
        pick_key = f"history.baseline_pick.{subject}"  # one per subject: ids differ
        st.session_state.setdefault(pick_key, chosen)
        pick = st.multiselect("Baseline sessions", ids, key=pick_key,
                              format_func=names.get, placeholder="none: earlier sessions rule",
                              help="Observations, Compare and the charts below are read "
                                   "against these sessions, pooled by recorded time.")
        if st.button("Save baseline", key="history.baseline_save"):
            changed = ui.save_baseline(subject, set(pick), ids)
            st.toast(f"Baseline saved ({changed} session(s) changed)")
            st.rerun()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Sessions", summary["n_sessions"])
c2.metric("Recorded time", ui.fmt_duration(summary["duration_s"]))
c3.metric("Face in view", ui.pct(summary["face_in_view"]))
c4.metric("Negative-affect share", ui.pct(summary["negative_share"]))

shares = pd.Series({c: summary[f"share_{c}"] for c in an.CLASSES})
figs = {"share of time per expression": charts.shares_bar(shares)}  # also the report's charts
ui.chart(figs["share of time per expression"], "share of time per expression", "history.shares",
         [subject])

# ---- trends, relative to the baseline -------------------------------------------------------
for metric, title, y_title, percent in (
        ("negative_share", "Negative-affect share per session vs baseline",
         "% of time with a face in view", True),
        ("mean_valence", f"{an.VALENCE_LABEL} per session vs baseline",
         "derived valence (-1 .. +1)", False)):
    ref = an.reference_table(every, metric, chosen).merge(every[["session", "name"]])
    ref = ref.loc[ref["session"].isin(in_period)]
    figs[title.lower()] = charts.baseline_trend(
        ref["name"].tolist(), ref["value"], ref["baseline_mean"], ref["is_baseline"], title,
        y_title, percent)
    ui.chart(figs[title.lower()], title.lower(), f"history.baseline.{metric}", [subject])

if by == "session":
    trend = table.rename(columns={f"share_{c}": c for c in an.CLASSES}).assign(x=table["name"])
    val_x, val_y = trend["x"], trend["mean_valence"]
else:
    trend = an.shares_by_day(counts, tz).rename(columns={"day": "x"})
    val = an.valence_by_day(counts, tz)
    val_x, val_y = val["day"], val["mean_valence"]
x_title = "session" if by == "session" else "day"
figs[f"expression shares per {by}"] = charts.stacked_shares(
    trend, "x", f"Expression shares per {by}", x_title)
figs[f"share of each expression per {by}"] = charts.class_lines(
    trend, "x", f"Share of each expression per {by}", x_title)
if by == "day":  # per session, the valence-vs-baseline chart above shows it
    figs["valence derived estimate"] = charts.valence_line(
        val_x, val_y, f"{an.VALENCE_LABEL}, mean per day", x_title)
for name, key in ((f"expression shares per {by}", "history.stacked"),
                  (f"share of each expression per {by}", "history.lines"),
                  ("valence derived estimate", "history.valence")):
    if name in figs:
        ui.chart(figs[name], name, key, [subject])
st.caption("Valence is not measured by the model: it is a derived estimate, the probability-"
           "weighted sum of fixed class weights (" + ", ".join(
               f"{c} {w:+.1f}" for c, w in an.VALENCE_WEIGHTS.items()) + ").")
figs["time of day x expression"] = charts.heatmap(
    an.time_of_day_heatmap(counts, tz), f"Time of day x expression (% of face time, {tz})", tz)
ui.chart(figs["time of day x expression"], "time of day x expression", "history.heatmap",
         [subject])

# ---- observations ---------------------------------------------------------------------------
st.subheader("Observations against this person's own baseline")
flags = an.baseline_flags(hist.sessions, chosen=chosen)
flags = flags.loc[flags["session"].isin(in_period)]
if flags.empty:
    st.caption("No session's negative-affect share departs from the baseline ("
               + ("more than 10 points and 2 spreads from the chosen sessions" if chosen else
                  "more than 2 sd from this person's earlier sessions; at least 3 earlier "
                  "sessions are needed") + ").")
for f in flags.itertuples():
    box, button = st.columns([5, 1])
    box.warning(f"**{ui.plain(names[f.session])}** — {ui.plain(f.observation)}",
                icon=":material/visibility:")
    if button.button("Open session", key=f"history.open.{f.session}",
                     icon=":material/movie:"):
        ui.open_session(subject, f.session)

# ---- the sessions table ---------------------------------------------------------------------
st.subheader("Sessions")
f1, f2, f3 = st.columns([2, 2, 1])
label_filter = f1.text_input("Label contains", key="history.label_filter")
operators = sorted(o for o in table["operator"].unique() if o)
ui.keep_valid("history.operator_filter", lambda v: set(v) <= set(operators))
operator_filter = f2.multiselect("Operator", operators, key="history.operator_filter",
                                 placeholder="all operators")
sort = f3.selectbox("Sort", list(sl.SORT_KEYS), key="history.sort")
listed = sl.filter_session_list(table, label=label_filter, operators=operator_filter, tz=tz,
                                sort=sort)
st.caption(f"{len(listed)} of {len(table)} sessions in the period (dates above). Select a row "
           "to open the session.")
shown = listed.assign(
    start=[ui.fmt_time(t) for t in listed["start"]],
    duration=[ui.fmt_duration(d) for d in listed["duration_s"]],
    flagged=listed["session"].isin(flags["session"]),
    **{c: 100 * listed[c] for c in ["face_in_view", "negative_share",
                                     *[f"share_{c}" for c in an.CLASSES]]},
)[["start", "label", "operator", "notes", "baseline", "duration", "face_in_view", "dominant",
   "negative_share", "mean_valence", "mean_confidence", "flagged", "quality",
   *[f"share_{c}" for c in an.CLASSES], "session"]]
shown = loaders.with_central_status(shown, subject)
event = st.dataframe(
    shown, key="history.sessions", hide_index=True, on_select="rerun",
    selection_mode="single-row", column_config={
        "start": st.column_config.TextColumn(f"start ({tz})"),
        "notes": st.column_config.TextColumn("notes (first line)"),
        "face_in_view": st.column_config.NumberColumn("face in view", format="%.0f%%"),
        "negative_share": st.column_config.NumberColumn("negative affect", format="%.0f%%"),
        "mean_valence": st.column_config.NumberColumn("valence (derived)", format="%.2f"),
        "mean_confidence": st.column_config.NumberColumn("mean confidence", format="%.2f"),
        "session": st.column_config.TextColumn("session id"),
        "quality": st.column_config.TextColumn(
            "recording quality", help="Verdict of the recording-quality checks (Session "
            "summary, Recording quality): reliable, or use with care and why."),
        **{f"share_{c}": st.column_config.NumberColumn(c, format="%.0f%%")
           for c in an.CLASSES},
    })
if event.selection.rows:
    ui.open_session(subject, listed.iloc[event.selection.rows[0]]["session"])

st.subheader("One segment label across sessions")
compared = segments_ui.label_comparison(subject, "history")  # (label, table) or None

if ui.downloads_heading():
    auth_ui.download_button(
        st, "Sessions table (CSV)", lambda: sl.sessions_csv(listed, subject, tz),
        key="history.table_csv", file_name=f"sessions_{subject}.csv", mime="text/csv",
        subjects=[subject], icon=":material/table:")
    # the report covers the period picked above, in the zone this page draws (tz)
    listing = loaders.sessions(subject)  # labels and operators, read in the page's run
    report_extra = {"segment_comparison": None if compared is None else
                    reports.label_comparison_table(*compared, tz),
                    "baseline_rule": an.rule_text(rule, [names[s] for s in chosen])}
    st.caption(f"The subject report covers the period picked above ({start} to {end}).")
    for fmt, mime, render in (("pdf", "application/pdf", reports.subject_report_pdf),
                              ("html", "text/html", reports.subject_report)):
        auth_ui.download_button(
            st, f"Subject report ({fmt.upper()})", key=f"history.report_{fmt}",
            subjects=[subject], icon=":material/print:",
            data=lambda render=render: render(subject, (start, end), summary, table, flags,
                                              figs, tz, synthetic=synthetic, listing=listing,
                                              **report_extra),
            file_name=reports.report_file_name(fmt, subject, start, end), mime=mime)
    ui.export_buttons("history", subject=subject)
