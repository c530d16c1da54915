"""Overview: every subject with sessions, recorded time, last session and negative-affect trend."""

import streamlit as st

from dashboard import auth_ui, charts, loaders, ui
from fer_core import analytics as an
from fer_core.auth import Perm

auth_ui.require(Perm.VIEW)
st.title("Overview")
ui.require_data()
auth_ui.log_view("Overview")
table = loaders.overview()

st.session_state.setdefault("overview.search", "")
st.session_state.setdefault("overview.synthetic", "all")
left, mid, right = st.columns([2, 1, 1])
search = left.text_input("Search subjects", key="overview.search", placeholder="subject id")
kind = mid.selectbox("Data", ["all", "real", "synthetic"], key="overview.synthetic")
min_sessions = right.number_input("At least N sessions", min_value=0, value=0,
                                  key="overview.min_sessions")
shown = an.filter_overview(table, search=search, synthetic=kind, min_sessions=int(min_sessions))
ui.synthetic_badge(bool(shown["synthetic"].any()))

st.caption(f"{len(shown)} of {len(table)} subjects. Negative affect = angry + disgust + fear + "
           "sad, as a share of the time a face was in view. Select a row to open the history.")
view = shown.assign(
    subject=[f"{s} (synthetic)" if syn else s for s, syn in zip(shown["subject"],
                                                                 shown["synthetic"], strict=True)],
    last_session=[ui.fmt_time(t) for t in shown["last_session"]],
    # a duration, not decimal hours: one short session would read "0.00 h"
    total_hours=[ui.fmt_duration(3600 * h) for h in shown["total_hours"]],
    mean_negative_share=100 * shown["mean_negative_share"],
    negative_trend=[[100 * v for v in trend] for trend in shown["negative_trend"]],
).drop(columns=["synthetic"])
event = st.dataframe(
    view, key="overview.table", hide_index=True, on_select="rerun", selection_mode="single-row",
    column_config={
        "subject": "Subject",
        "n_sessions": st.column_config.NumberColumn("Sessions"),
        "total_hours": st.column_config.TextColumn("Recorded"),
        "last_session": "Last session",
        "mean_negative_share": st.column_config.NumberColumn("Neg. affect (mean %)",
                                                             format="%.0f%%"),
        "negative_trend": st.column_config.LineChartColumn(
            "Neg. affect per session (%)", y_min=0, y_max=100),
    },
)
if event.selection.rows:
    st.session_state[ui.PENDING_SUBJECT_KEY] = shown.iloc[event.selection.rows[0]]["subject"]
    st.switch_page("pages/history.py")

sessions = loaders.sessions()
sessions = sessions.loc[sessions["subject"].isin(shown["subject"])]
ui.damage_notice(sessions)
ui.chart(charts.sessions_scatter(ui.localise(sessions, "started_at"), loaders.negative_shares()),
         "sessions over time", "overview.sessions", shown["subject"].tolist())

# the overview's export is the whole store: only for accounts that see every subject
if auth_ui.current().sees_all_subjects and ui.downloads_heading():
    ui.export_buttons("overview")
