"""A session whose recorded end precedes its start is listed as damaged; nothing crashes on it.

Issue 23: with the clock set back during a recording, a session ended before it began and the
Overview page crashed in Plotly (a negative marker size from the negative duration). The store
here holds a healthy session (p01/s-a) and one whose ``_session.json`` says it ended an hour
before it started (p01/backwards); its rows are intact. The listing, the analytics functions
and every page must show it (as damaged, with a duration of its rows) and never fail.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard import charts
from fer_core import analytics as an
from fer_core.logstore import LogStore
from fer_core.logstore.layout import session_dir
from fer_core.logstore.meta import update_meta
from tests.auth_fixtures import page_opener
from tests.dashboard_fixtures import T0, session_a_rows, write_session

BACKWARDS = "backwards"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("backwards") / "logs"
    write_session(root, "p01", "s-a", session_a_rows(), source="video", label="intake")
    write_session(root, "p01", BACKWARDS, session_a_rows(T0 + timedelta(days=1)), source="video")

    def end_an_hour_before_start(meta):
        meta.ended_at = meta.started_at - timedelta(hours=1)

    update_meta(session_dir(root, "p01", BACKWARDS), end_an_hour_before_start)
    return root


def test_the_listing_flags_it_damaged_with_the_duration_of_its_rows(store_root):
    table = LogStore(store_root).list_sessions().set_index("session")
    row = table.loc[BACKWARDS]
    assert row["status"] == "damaged"
    assert "ends before it starts" in row["damage"]
    assert row["duration_s"] == pytest.approx(9.0)  # its rows: 10 frames 1 s apart
    assert (table["duration_s"] >= 0).all()
    assert table.loc["s-a", "status"] == "closed" and table.loc["s-a", "damage"] == ""
    subjects = LogStore(store_root).list_subjects()
    assert (subjects["total_duration_s"] >= 0).all()


def test_analytics_and_charts_take_it(store_root):
    store = LogStore(store_root)
    sessions = store.list_sessions()
    counts = an.summary_label_counts(store_root)
    overview = an.overview_table(store.list_subjects(), sessions, counts)
    assert overview.loc[0, "n_sessions"] == 2 and overview.loc[0, "total_hours"] >= 0
    history_counts, bounds = an.subject_history(store_root, "p01")
    assert set(an.session_table(history_counts, bounds)["session"]) == {"s-a", BACKWARDS}
    summary = an.session_summary(store.read("p01", BACKWARDS))
    assert summary["duration_s"] == pytest.approx(10.0)
    # a listing that still carries a negative duration (an older catalog, a foreign table)
    negative = sessions.assign(duration_s=[-3600.0, 9.0])
    fig = charts.sessions_scatter(negative, an.negative_share_by_session(counts))
    assert min(fig.data[0].marker.size) >= 0
    charts.figure_png(fig)


@pytest.fixture
def app(store_root, tmp_path, monkeypatch):
    return page_opener(monkeypatch, store_root, tmp_path / "auth")


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/history.py", "pages/compare.py",
                                  "pages/admin.py"])
def test_every_page_renders_and_names_it(app, page):
    at = app(page)
    if page != "pages/admin.py":
        text = "\n".join(w.value for w in at.warning)
        assert "1 damaged session(s)" in text and "ends before it starts" in text


@pytest.mark.parametrize("session", [BACKWARDS, "s-a"])
def test_the_session_page_renders_it(app, session):
    at = app("pages/session.py", session=session)
    text = "\n".join(w.value for w in at.warning)
    assert ("ends before it starts" in text) == (session == BACKWARDS)
    assert at.get("plotly_chart")  # its charts are drawn from its rows
