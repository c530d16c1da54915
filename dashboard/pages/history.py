"""Subject history: expression shares, trends, derived valence, time of day, baseline flags."""

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, ui
from fer_core import analytics as an
from fer_core.auth import Perm

auth_ui.require(Perm.VIEW)
subjects = ui.require_data()
subject = st.session_state[ui.SUBJECT_KEY]
auth_ui.require(Perm.VIEW, subject)
auth_ui.log_view("Subject history", subject)
synthetic = bool(subjects.set_index("subject").at[subject, "synthetic"])
st.title(f"Subject history — {ui.plain(subject)}")
ui.synthetic_badge(synthetic)
ui.damage_notice(loaders.sessions(subject))

hist = loaders.history(subject)
tz = ui.display_tz()
if hist.sessions.empty:
    st.info("This subject has no logged frames yet.")
    st.stop()

days = hist.sessions["start"].dt.tz_convert(tz).dt.date
st.session_state.setdefault("history.period", (days.min(), days.max()))
st.session_state.setdefault("history.by", "session")
left, right = st.columns([2, 1])
period = left.date_input("Period", key="history.period", min_value=days.min(),
                         max_value=days.max())
by = right.radio("Trend per", ["session", "day"], key="history.by", horizontal=True)
start, end = (period if isinstance(period, tuple | list) and len(period) == 2
              else (days.min(), days.max()))
counts = an.filter_counts(hist.counts, start, end, tz)
table = hist.sessions.loc[(days >= start) & (days <= end)].reset_index(drop=True)
bounds = hist.bounds.loc[hist.bounds["session"].isin(table["session"])]
summary = an.summarise_period(counts, bounds)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Sessions", summary["n_sessions"])
c2.metric("Recorded time", ui.fmt_duration(summary["duration_s"]))
c3.metric("Face in view", ui.pct(summary["face_in_view"]))
c4.metric("Negative-affect share", ui.pct(summary["negative_share"]))

shares = pd.Series({c: summary[f"share_{c}"] for c in an.CLASSES})
ui.chart(charts.shares_bar(shares), "share of time per expression", "history.shares",
         [subject])

if by == "session":
    trend = table.rename(columns={f"share_{c}": c for c in an.CLASSES})
    trend = trend.assign(x=trend["start"].dt.tz_convert(tz))
    val_x, val_y = trend["x"], trend["mean_valence"]
else:
    trend = an.shares_by_day(counts, tz).rename(columns={"day": "x"})
    val = an.valence_by_day(counts, tz)
    val_x, val_y = val["day"], val["mean_valence"]
x_title = "session start" if by == "session" else "day"
ui.chart(charts.stacked_shares(trend, "x", f"Expression shares per {by}", x_title),
         f"expression shares per {by}", "history.stacked", [subject])
ui.chart(charts.class_lines(trend, "x", f"Share of each expression per {by}", x_title),
         f"share of each expression per {by}", "history.lines", [subject])
ui.chart(charts.valence_line(val_x, val_y, f"{an.VALENCE_LABEL}, mean per {by}", x_title),
         "valence derived estimate", "history.valence", [subject])
st.caption("Valence is not measured by the model: it is a derived estimate, the probability-"
           "weighted sum of fixed class weights (" + ", ".join(
               f"{c} {w:+.1f}" for c, w in an.VALENCE_WEIGHTS.items()) + ").")
ui.chart(charts.heatmap(an.time_of_day_heatmap(counts, tz),
                        f"Time of day x expression (% of face time, {tz})", tz),
         "time of day x expression", "history.heatmap", [subject])

st.subheader("Observations against this person's own baseline")
flags = an.baseline_flags(hist.sessions)
flags = flags.loc[flags["session"].isin(table["session"])]
if flags.empty:
    st.caption("No session's negative-affect share lies more than 2 sd from this person's "
               "earlier sessions (at least 3 earlier sessions are needed to compare).")
for f in flags.itertuples():
    st.warning(f"**{ui.fmt_time(f.start)}** — {ui.plain(f.observation)}",
               icon=":material/visibility:")

st.subheader("Sessions")
shown = table.assign(
    start=[ui.fmt_time(t) for t in table["start"]],
    duration=[ui.fmt_duration(d) for d in table["duration_s"]],
    flagged=table["session"].isin(flags["session"]),
    **{c: 100 * table[c] for c in ["face_in_view", "negative_share",
                                    *[f"share_{c}" for c in an.CLASSES]]},
)[["start", "session", "duration", "face_in_view", "dominant", "negative_share",
   "mean_valence", "mean_confidence", "flagged", "quality",
   *[f"share_{c}" for c in an.CLASSES]]]
shown = loaders.with_central_status(shown, subject)
st.dataframe(shown, key="history.sessions", hide_index=True, column_config={
    "face_in_view": st.column_config.NumberColumn("face in view", format="%.0f%%"),
    "negative_share": st.column_config.NumberColumn("negative affect", format="%.0f%%"),
    "mean_valence": st.column_config.NumberColumn("valence (derived)", format="%.2f"),
    "mean_confidence": st.column_config.NumberColumn("mean confidence", format="%.2f"),
    "quality": st.column_config.TextColumn(
        "recording quality", help="Verdict of the recording-quality checks (Session summary, "
        "Recording quality): reliable, or use with care and why."),
    **{f"share_{c}": st.column_config.NumberColumn(c, format="%.0f%%") for c in an.CLASSES},
})

if ui.downloads_heading():
    auth_ui.download_button(
        st, "Sessions table (CSV)", lambda: shown.to_csv(index=False), key="history.table_csv",
        file_name=f"sessions_{subject}.csv", mime="text/csv", subjects=[subject],
        icon=":material/table:")
    ui.export_buttons("history", subject=subject)
