"""Every kind of file the dashboard's download buttons produce opens as its format promises.

The buttons call exactly these functions (charts.figure_png, reports.session_report and
LogStore.export with the page's scope); tests/e2e/test_dashboard_e2e.py additionally clicks every
button in a real browser and opens what arrives.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from dashboard import charts, reports
from fer_core import analytics as an
from fer_core.logstore import LogStore
from tests.dashboard_fixtures import read_session, session_a_rows, session_b_rows, write_session

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dl_store")
    write_session(root, "p01", "s-a", session_a_rows(), notes="first visit")
    write_session(root, "p01", "s-b", session_b_rows())
    LogStore(root).add_marker("p01", "s-a", "task 2", session_a_rows()[3]["timestamp"])
    return root


@pytest.fixture(scope="module")
def session_figs(root):
    rows = read_session(root, "p01", "s-a")
    meta = LogStore(root).session_meta("p01", "s-a")
    tl = an.timeline(rows, 2.0)
    return rows, meta, {
        "probabilities": charts.probability_timeline(tl, meta.markers),
        "ethogram": charts.ethogram(an.ethogram_segments(rows)),
        "valence": charts.valence_timeline(tl, meta.markers),
        "shares": charts.shares_bar(an.class_shares(rows)),
        "transitions": charts.transition_matrix(an.transition_counts(rows)),
    }


def _open_png(data: bytes) -> Image.Image:
    assert data[:8] == PNG_MAGIC
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_every_session_chart_renders_as_png(session_figs):
    for name, fig in session_figs[2].items():
        img = _open_png(charts.figure_png(fig))
        assert img.width > 500 and img.height > 200, name
        # not a blank canvas: the chart drew several colours
        assert len(img.convert("RGB").getcolors(maxcolors=100_000) or []) > 5, name


def test_history_and_compare_charts_render_as_png(root):
    rows = read_session(root, "p01")
    counts, bounds = an.bucket_counts(rows), an.session_bounds(rows)
    table = an.session_table(counts, bounds).rename(
        columns={f"share_{c}": c for c in an.CLASSES})
    a, b = (an.session_summary(rows.loc[rows["session"] == s]) for s in ("s-a", "s-b"))
    figs = [
        charts.stacked_shares(table, "start", "shares", "session"),
        charts.class_lines(table, "start", "lines", "session"),
        charts.valence_line(table["start"], table["mean_valence"]),
        charts.heatmap(an.time_of_day_heatmap(counts)),
        charts.compare_bars(a, b),
        charts.sessions_scatter(LogStore(root).list_sessions(),
                                an.negative_share_by_session(an.session_label_counts(root))),
    ]
    for fig in figs:
        _open_png(charts.figure_png(fig))


def test_session_report_is_self_contained_with_the_summary(session_figs):
    rows, meta, figs = session_figs
    summary = an.session_summary(rows)
    html = reports.session_report("p01", meta, summary, figs, 2.0)
    for text in ("Face in view", "80%", "Dominant expression", "happy",
                 "Negative-affect share", "38%", "Mean confidence", "0.74", "Share happy",
                 "50.0%", "first visit", "task 2", "derived estimate"):
        assert text in html, text
    assert html.count("data:image/png;base64,") == len(figs)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "SYNTHETIC" not in html


def test_session_report_marks_synthetic_data(session_figs):
    rows, meta, _ = session_figs
    meta = dataclasses.replace(meta, synthetic=True)
    html = reports.session_report("p01", meta, an.session_summary(rows), {}, 0.0)
    assert "SYNTHETIC DATA" in html


@pytest.mark.parametrize("scope", [{}, {"subject": "p01"}, {"subject": "p01", "session": "s-a"}])
def test_raw_log_exports_open(root, scope):
    store = LogStore(root)
    expected = 11 if scope.get("session") else 15  # s-a has 11 rows, s-b 4
    csv = pd.read_csv(io.BytesIO(store.export("csv", **scope)))
    assert len(csv) == expected and "prob_happy" in csv.columns
    table = pq.read_table(io.BytesIO(store.export("parquet", **scope)))
    assert table.num_rows == expected
    with zipfile.ZipFile(io.BytesIO(store.export("zip", **scope))) as z:
        assert z.testzip() is None
        names = z.namelist()
    assert any(n.endswith(".parquet") for n in names)


def test_one_session_charts_are_bars_with_sane_axes(root):
    """One session: bars on a category axis (an area of one point draws nothing), and a time
    axis that spans days, not milliseconds (on screen and in the PNG)."""
    rows = read_session(root, "p01", "s-a")
    counts, bounds = an.bucket_counts(rows), an.session_bounds(rows)
    table = an.session_table(counts, bounds).rename(
        columns={f"share_{c}": c for c in an.CLASSES})
    stacked = charts.stacked_shares(table, "start", "shares", "session start")
    assert {t.type for t in stacked.data} == {"bar"} and stacked.layout.barmode == "stack"
    assert stacked.layout.xaxis.type == "category"
    assert list(stacked.data[0].x) == ["2026-11-02 09:00"]
    assert stacked.layout.legend.orientation == "v"  # beside the plot, not over the x title
    sessions = LogStore(root).list_sessions(subject="p01").head(1)
    scatter = charts.sessions_scatter(sessions, an.negative_share_by_session(
        an.session_label_counts(root)))
    lo, hi = (pd.Timestamp(v) for v in scatter.layout.xaxis.range)
    assert hi - lo == pd.Timedelta(days=2)
    for fig in (stacked, scatter):
        _open_png(charts.figure_png(fig))


def test_heatmap_names_its_time_zone():
    table = pd.DataFrame([[0.5, 0, 0, 0.5, 0, 0, 0]], columns=list(an.CLASSES), index=[9])
    fig = charts.heatmap(table, tz="Asia/Jakarta")
    assert fig.layout.yaxis.title.text == "hour of day (Asia/Jakarta)"


def test_a_saved_chart_is_named_after_its_subject_and_session():
    # issue 19: every PNG download was called `ethogram.png`, whoever's chart it was
    from dashboard.ui import png_file_name

    assert png_file_name("Ethogram", ["p01"], "s-a") == "ethogram_p01_s-a.png"
    assert png_file_name("shares A vs B", ["p01", "p01"]) == "shares-a-vs-b_p01.png"
    assert png_file_name("History", ["p01", "p02"]) == "history_p01-p02.png"


def test_png_draws_segment_bands_and_lines(root):
    """The PNG shows what the screen shows: a band per interval segment, a line per point."""
    from datetime import timedelta

    from fer_core.logstore import Segment

    rows = read_session(root, "p01", "s-a")
    tl = an.timeline(rows, 0.0)
    t0 = session_a_rows()[0]["timestamp"]
    band = Segment("b", "stimulus A", t0 + timedelta(seconds=2), t0 + timedelta(seconds=6))

    def band_pixels(segments) -> int:
        img = _open_png(charts.figure_png(charts.probability_timeline(tl, segments)))
        # SEGMENT_FILL (#4c78a8) at 15% on white: about (228, 235, 242)
        return sum(n for n, (r, g, b) in img.convert("RGB").getcolors(maxcolors=1_000_000)
                   if abs(r - 228) <= 3 and abs(g - 235) <= 3 and abs(b - 242) <= 3)

    assert band_pixels([band]) > 10_000 > band_pixels([])
    point = Segment("p", "door knock", t0 + timedelta(seconds=8))
    fig = charts.probability_timeline(tl, [band, point])
    assert [s.type for s in fig.layout.shapes] == ["rect", "line"]
    assert [a.text for a in fig.layout.annotations] == ["stimulus A", "door knock"]
