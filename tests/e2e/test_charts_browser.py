"""Every review page's charts read well with one session and with many (screenshots kept).

A store with a single real-format session, and the demo-data store. On every review page, in
chromium: each plotly chart draws something, no time axis ticks in milliseconds, no legend
overlaps its axis title, and a screenshot lands in ``artifacts/screenshots/<store>/``.
"""

from __future__ import annotations

import pytest

from tests.dashboard_fixtures import session_a_rows, write_session
from tests.e2e.conftest import ARTIFACTS, full_screenshot, login, wait_for_streamlit

pytestmark = pytest.mark.e2e

NAV = '[data-testid="stSidebarNavLink"]'
PAGES = ["Overview", "Subject history", "Session summary", "Compare"]

CHART_PROBLEMS_JS = """() => {
    const boxesOverlap = (a, b) => a && b && a.width > 0 && b.width > 0 &&
        a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const out = [];
    for (const el of document.querySelectorAll('.js-plotly-plot')) {
        const title = (el.layout && el.layout.title && el.layout.title.text) || '(untitled)';
        const drawn = el.querySelectorAll(
            '.point, .bars path, .scatterlayer .js-line, .heatmaplayer image, .fills path');
        if (drawn.length === 0) out.push(title + ': nothing drawn');
        const legend = el.querySelector('.legend');
        for (const t of el.querySelectorAll('.g-xtitle text, .g-ytitle text')) {
            if (legend && boxesOverlap(legend.getBoundingClientRect(),
                                       t.getBoundingClientRect()))
                out.push(title + ': legend overlaps the axis title "' + t.textContent + '"');
        }
        const ticks = [...el.querySelectorAll('.xtick text')].map(t => t.textContent);
        out.push(...ticks.filter(t => /\\d:\\d\\d\\.\\d{3}/.test(t))
                         .map(t => title + ': millisecond tick ' + t));
    }
    return out;
}"""


@pytest.fixture(scope="module")
def one_session_app(start_app, tmp_path_factory):
    root = tmp_path_factory.mktemp("one_session")
    write_session(root, "p01", "s-a", session_a_rows(), source="video")
    return start_app(root)


def _visit_every_page(page, url: str, name: str) -> dict[str, list[str]]:
    page.goto(url)
    login(page)
    problems: dict[str, list[str]] = {}
    for title in PAGES:
        page.locator(NAV, has_text=title).first.click()
        wait_for_streamlit(page)
        assert page.locator('[data-testid="stException"]').count() == 0, title
        problems[title] = page.evaluate(CHART_PROBLEMS_JS)
        full_screenshot(page, ARTIFACTS / "screenshots" / name / f"{title.replace(' ', '_')}.png")
    return problems


def test_pages_with_one_session(one_session_app, page):
    problems = _visit_every_page(page, one_session_app.url, "one_session")
    assert problems == {p: [] for p in PAGES}, problems
    # Compare with one session says so instead of comparing the session with itself
    assert page.get_by_text("A and B are the same session").count() == 1


def test_pages_with_demo_data(demo_app, page):
    problems = _visit_every_page(page, demo_app.url, "demo")
    assert problems == {p: [] for p in PAGES}, problems


#: For every chart on the page: its title, the plot area's left edge and width, and whether its
#: legend lies wholly inside the chart (not clipped, no scrollbar).
TIME_AXES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const title = ((el.layout && el.layout.title && el.layout.title.text) || '')
        .replace(/<[^>]*>/g, '');  // Streamlit's theme wraps titles in <b>
    const area = el.querySelector('.nsewdrag').getBoundingClientRect();
    const box = el.getBoundingClientRect();
    const legend = el.querySelector('.legend');
    const lb = legend ? legend.getBoundingClientRect() : null;
    return {title: title, left: area.left, width: area.width,
            legendInside: !lb || (lb.left >= box.left - 1 && lb.right <= box.right + 1
                                  && lb.top >= box.top - 1 && lb.bottom <= box.bottom + 1),
            scrollbar: !!(legend && legend.querySelector('.scrollbar')
                          && legend.querySelector('.scrollbar').getBoundingClientRect().height),
            items: legend ? Array.from(legend.querySelectorAll('.legendtext'))
                                .map(t => t.textContent) : []};
})"""


def test_session_time_charts_share_one_axis_and_show_whole_legends(demo_app, page):
    """Issue 19: the ethogram's legend was clipped behind a scrollbar (hiding "neutral" and
    "no face") and its plot narrower than the charts above it."""
    page.goto(demo_app.url)
    login(page)
    page.locator(NAV, has_text="Session summary").first.click()
    wait_for_streamlit(page)
    charts = page.evaluate(TIME_AXES_JS)
    timed = [c for c in charts if c["title"].startswith(("Expressions over time", "Ethogram",
                                                         "Valence"))]
    assert len(timed) == 3, [c["title"] for c in charts]
    assert max(c["left"] for c in timed) - min(c["left"] for c in timed) < 1.5, timed
    assert max(c["width"] for c in timed) - min(c["width"] for c in timed) < 1.5, timed
    ethogram = next(c for c in timed if c["title"].startswith("Ethogram"))
    assert ethogram["legendInside"] and not ethogram["scrollbar"], ethogram
    assert {"neutral", "no face"} <= set(ethogram["items"]), ethogram["items"]
    full_screenshot(page, ARTIFACTS / "screenshots" / "demo" / "Session_time_axes.png")
