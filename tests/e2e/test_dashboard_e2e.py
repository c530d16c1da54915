"""Real server + real chromium: every dashboard page on demo data, screenshots and downloads.

Screenshots land in artifacts/screenshots/<page>.png and every downloaded file in
artifacts/downloads/<page>/ (git-ignored), for a human to look at after a CI run.
"""

from __future__ import annotations

import csv
import io
import zipfile
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import ARTIFACTS, full_screenshot, login, wait_for_streamlit

pytestmark = pytest.mark.e2e

PAGES = {"overview": "", "history": "history", "session": "session", "compare": "compare"}
#: sidebar link of each page (a fresh browser session starts at the login form)
LINKS = {"history": "Subject history", "session": "Session summary", "compare": "Compare"}

CHART_CHECK = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const data = el.data || [];
    const points = data.reduce((n, t) => n + Math.max(
        (t.x || []).length, (t.y || []).length, (t.z || []).length), 0);
    return {traces: data.length, points: points, title: (el.layout && el.layout.title &&
        el.layout.title.text) || ''};
})"""


def open_page(page, app, name: str) -> None:
    page.goto(app.url)
    login(page)
    if name in LINKS:
        link = page.get_by_role("link", name=LINKS[name])
        # a click that lands while the page is still rerunning after login can be lost (seen
        # once in a loaded CI run): click again until the address is the page's, then settle
        for _ in range(3):
            link.click()
            try:
                page.wait_for_url(lambda url: urlsplit(url).path.rstrip("/").endswith(
                    PAGES[name]), timeout=15_000)
                break
            except PlaywrightTimeout:
                continue
        wait_for_streamlit(page)
    # the page keeps its subject/session in the query string (a reload comes back to them)
    path = urlsplit(page.url).path
    assert path.rstrip("/").endswith(PAGES[name]), page.url


def assert_healthy(page, name: str) -> list[dict]:
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"{name}: {exceptions.first.inner_text()}"
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    charts = page.evaluate(CHART_CHECK)
    assert charts, f"{name}: no chart"
    empty = [c["title"] for c in charts if c["traces"] == 0 or c["points"] == 0]
    assert not empty, f"{name}: empty charts {empty}"
    return charts


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_with_charts_and_screenshot(page, demo_app, name):
    open_page(page, demo_app, name)
    charts = assert_healthy(page, name)
    assert page.get_by_text("SYNTHETIC demo data").count() >= 1, "synthetic badge missing"
    if name == "history":  # shares, negative affect and valence vs baseline, 2 trends, heatmap,
        assert len(charts) == 8  # and one segment label across sessions (bars and lines)
    if name == "session":
        assert len(charts) == 7  # 5 (raw lines on request) + recording quality: rate, face
    shot = ARTIFACTS / "screenshots" / f"{name}.png"
    full_screenshot(page, shot)
    assert shot.stat().st_size > 10_000


def check_file(name: str, data: bytes) -> None:
    """Open a downloaded file the way its user would."""
    if name.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        assert len(rows) >= 2 and len(rows[0]) >= 3
    elif name.endswith(".parquet"):
        table = pq.read_table(io.BytesIO(data))
        assert table.num_rows > 0 and "timestamp" in table.column_names
    elif name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert z.testzip() is None and z.namelist()
    elif name.endswith(".png"):
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    elif name.endswith(".html"):
        text = data.decode("utf-8")
        assert "Face in view" in text and "Negative-affect share" in text
        assert "data:image/png;base64," in text and "<script src=" not in text
    elif name.endswith(".pdf"):  # the printable reports: A4 pages with their text
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(p.extract_text() for p in reader.pages)
        assert "Face in view" in text and f"page 1 of {len(reader.pages)}" in text
    else:
        raise AssertionError(f"unexpected download {name}")


@pytest.mark.parametrize("name", list(PAGES))
def test_every_download_button_gives_a_file_that_opens(page, demo_app, name):
    open_page(page, demo_app, name)
    buttons = page.locator('[data-testid="stDownloadButton"] button')
    n = buttons.count()
    assert n >= 4, f"{name}: only {n} download buttons"
    out = ARTIFACTS / "downloads" / name
    out.mkdir(parents=True, exist_ok=True)
    seen = []
    for i in range(n):
        with page.expect_download(timeout=60_000) as info:
            buttons.nth(i).click()
        download = info.value
        path = out / download.suggested_filename
        download.save_as(path)
        check_file(download.suggested_filename, path.read_bytes())
        seen.append(download.suggested_filename)
    assert any(s.endswith(".zip") for s in seen) and any(s.endswith(".png") for s in seen)
    if name in ("session", "history"):  # the printable report, both formats
        assert any(s.endswith(".html") for s in seen) and any(s.endswith(".pdf") for s in seen)
