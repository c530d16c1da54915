"""Every kind of file the dashboard's download buttons produce opens as its format promises.

The buttons call exactly these functions (charts.figure_png, reports.session_report and
LogStore.export with the page's scope); tests/e2e/test_dashboard_e2e.py additionally clicks every
button in a real browser and opens what arrives.
"""

from __future__ import annotations

import dataclasses
import io
import re
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


# ---- the printable reports (issue 19, item 4) ---------------------------------------------------
# Europe/Berlin: the fixture's sessions start at 09:00 UTC, 10:00 in Berlin; a report that slips
# back to UTC shows 09:00 (and says "UTC"), which these tests refuse.
BERLIN = "Europe/Berlin"
CONSENT = {"given": True, "text": "The person was informed.", "text_version": "1",
           "subject": "p01", "obtained_by": "dr.k", "at": "2026-11-02T08:59:30+00:00"}
PIPELINE = {"detect_every": 10, "crops": "flip", "backend": "onnxruntime", "min_face": 48}


@pytest.fixture(scope="module")
def report_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_store")
    write_session(root, "p01", "s-a", session_a_rows(), notes="first line\nsecond <b>line</b>",
                  operator="dr.k", label="Baseline interview", model_name="fer-cnn-fast",
                  model_version="3.1", consent=CONSENT, extra={"pipeline": PIPELINE})
    write_session(root, "p01", "s-b", session_b_rows(), operator="dr.k", label="week 2")
    LogStore(root).add_marker("p01", "s-a", "stimulus A", session_a_rows()[3]["timestamp"])
    return root


def _pdf_text(data: bytes) -> tuple[int, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def _without_images(html: str) -> str:
    """The page's text without its base64 charts (whose letters may spell anything)."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def _session_model(root):
    rows = read_session(root, "p01", "s-a")
    meta = LogStore(root).session_meta("p01", "s-a")
    tl = an.timeline(rows, 2.0)
    tl = tl.assign(timestamp=tl["timestamp"].dt.tz_convert(BERLIN))  # as the page draws it
    figs = {"probabilities": charts.probability_timeline(tl, meta.markers),
            "shares": charts.shares_bar(an.class_shares(rows))}
    return reports.session_report_model("p01", meta, an.session_summary(rows), figs, 2.0,
                                        BERLIN, quality="reliable")


def test_session_report_model_formats_every_fact_in_the_display_zone(report_root):
    report = _session_model(report_root)
    assert report.time_zone == BERLIN
    assert report.started == "2026-11-02 10:00:00" and report.ended.startswith("2026-11-02 10:00")
    assert report.segments == (("stimulus A", "2026-11-02 10:00:03 (+3.0 s)", ""),)
    assert ("Face in view", "80%") in report.summary
    assert (report.session_label, report.operator) == ("Baseline interview", "dr.k")
    assert (report.model_name, report.model_version) == ("fer-cnn-fast", "3.1")
    consent = dict(report.consent)
    assert consent["Given at"] == "2026-11-02 09:59:30" and consent["Consent given"] == "yes"
    assert consent["Obtained by"] == "dr.k" and consent["Text shown"] == CONSENT["text"]
    pipeline = dict(report.pipeline)
    assert pipeline["Crops per face"] == "flip" and pipeline["Runtime"] == "onnxruntime"
    assert pipeline["Chart smoothing window (this report)"] == "2 s"
    assert report.notes == "first line\nsecond <b>line</b>"


def test_session_pdf_and_html_reports(report_root):
    report = _session_model(report_root)
    _, text = _pdf_text(reports.render_pdf(report))
    for fact in ("Baseline interview", "dr.k", "fer-cnn-fast 3.1", BERLIN, "stimulus A",
                 "2026-11-02 10:00:03 (+3.0 s)", "reliable", "second <b>line</b>"):
        assert fact in text, fact
    assert "UTC" not in text and "09:00" not in text
    html = _without_images(reports.render_html(report))
    assert "second &lt;b&gt;line&lt;/b&gt;" in html and "UTC" not in html


def test_report_charts_draw_the_markers_on_time_axes_only(report_root):
    rows = read_session(report_root, "p01", "s-a")
    tl = an.timeline(rows, 2.0)
    tl = tl.assign(timestamp=tl["timestamp"].dt.tz_convert(BERLIN))
    start = pd.Timestamp(rows["timestamp"].min()).tz_convert(BERLIN)
    spans = [(start + pd.Timedelta(seconds=2), start + pd.Timedelta(seconds=5), "stimulus A"),
             (start + pd.Timedelta(seconds=7), None, "knock")]
    timeline = charts.probability_timeline(tl)
    plain, marked = charts.figure_png(timeline), charts.figure_png(timeline, spans=spans)
    assert plain != marked
    # a grey band between the span's ends: pixels of the marked chart that the plain one lacks
    a, b = (_open_png(png).convert("L") for png in (plain, marked))
    assert a.size == b.size  # the spans lie on the chart's range: nothing stretched
    assert sum(x != y for x, y in zip(a.tobytes(), b.tobytes(), strict=True)) > 500
    bars = charts.shares_bar(an.class_shares(rows))  # no time axis: nothing to place them on
    assert charts.figure_png(bars, spans=spans) == charts.figure_png(bars)


def test_subject_report_over_a_period(report_root):
    import datetime as dt

    rows = read_session(report_root, "p01")
    counts, bounds = an.bucket_counts(rows), an.session_bounds(rows)
    table = an.session_table(counts, bounds)
    flags = an.baseline_flags(table)
    figs = {"shares": charts.shares_bar(pd.Series(
        {c: an.summarise_period(counts, bounds)[f"share_{c}"] for c in an.CLASSES}))}
    period = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    data = reports.subject_report_pdf("p01", period, an.summarise_period(counts, bounds), table,
                                      flags, figs, BERLIN,
                                      listing=LogStore(report_root).list_sessions())
    _, text = _pdf_text(data)
    text = " ".join(text.split())  # a narrow table cell wraps "2026-11-02 10:00" at its space
    # s-b starts 23:50 UTC on 11-03: 00:50 on 11-04 in Berlin
    for fact in ("Subject p01 · 2026-11-01 to 2026-11-30", "2026-11-02 10:00",
                 "2026-11-04 00:50", "Baseline interview", "week 2", "dr.k", BERLIN,
                 "Baseline:"):
        assert fact in text, fact
    assert "UTC" not in text
    html = reports.subject_report("p01", period, an.summarise_period(counts, bounds), table,
                                  flags, figs, BERLIN)
    assert "2026-11-04 00:50" in html and "UTC" not in _without_images(html)


# ---- the report downloads on the pages: real app runs (AppTest), real logins, the audit log ----
@pytest.fixture
def app_env(report_root, tmp_path, monkeypatch):
    from fer_core.auth import Role
    from tests.auth_fixtures import add_account, use_auth_dir

    monkeypatch.setenv("FER_LOG_ROOT", str(report_root))
    monkeypatch.setenv("FER_TIMEZONE", BERLIN)
    monkeypatch.setenv("FER_MEDIA_DIR", str(tmp_path / "media"))
    auth = use_auth_dir(monkeypatch, tmp_path / "auth")
    add_account(auth, "psy", Role.PSYCHOLOGIST, ("p01",))
    return auth


@pytest.fixture
def deferred(monkeypatch):
    """The data functions the pages registered for their download buttons, by file name (what
    a click runs on the server)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    registered: dict[str, object] = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        registered[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return registered


def _run_page(page: str, **state):
    from streamlit.testing.v1 import AppTest

    from tests.auth_fixtures import log_in

    at = log_in(AppTest.from_file("../dashboard/app.py", default_timeout=120), "psy")
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_session_and_subject_pdf_downloads_are_audited(app_env, deferred):
    auth = app_env
    at = _run_page("session", **{"shared.subject": "p01", "shared.session": "s-a"})
    labels = [b.label for b in at.get("download_button")]
    assert {"Printable session report (PDF)", "Printable session report (HTML)"} <= set(labels)
    assert not auth.audit.read(user="psy", action="download")  # a button downloads nothing

    pages, text = _pdf_text(deferred["report_p01_s-a.pdf"]())
    for fact in ("Subject p01 · session s-a (Baseline interview)", "dr.k", "fer-cnn-fast 3.1",
                 BERLIN, "stimulus A", "2026-11-02 10:00:03 (+3.0 s)", "first line"):
        assert fact in text, fact
    assert "UTC" not in text and f"page {pages} of {pages}" in text
    html = deferred["report_p01_s-a.html"]()
    assert "Baseline interview" in html and "UTC" not in _without_images(html)
    files = [e["details"]["file"] for e in auth.audit.read(user="psy", action="download")]
    assert files == ["report_p01_s-a.pdf", "report_p01_s-a.html"]
    entry = auth.audit.read(user="psy", action="download")[0]
    assert entry["target"] == "subject=p01 session=s-a"

    at = _run_page("history", **{"shared.subject": "p01"})
    labels = [b.label for b in at.get("download_button")]
    assert {"Subject report (PDF)", "Subject report (HTML)"} <= set(labels)
    # the period picked on the page: both sessions' local dates (s-b: 00:50 on 11-04 in Berlin)
    name = "report_p01_2026-11-02_2026-11-04.pdf"
    _, text = _pdf_text(deferred[name]())
    flat = " ".join(text.split())
    for fact in ("Subject p01 · 2026-11-02 to 2026-11-04", "Baseline interview", "week 2",
                 "2026-11-04 00:50", BERLIN, "expression shares per session"):
        assert fact in flat, fact
    assert "UTC" not in text
    last = auth.audit.read(user="psy", action="download")[-1]
    assert last["details"]["file"] == name and last["target"] == "subject=p01"
    assert auth.audit.verify() == []
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
