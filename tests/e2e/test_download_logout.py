"""A downloaded file's ``/media/...`` URL stops working at logout (issue 14, item 7).

Streamlit serves files made by a download button from memory, to anyone with the URL and
without a login, until two later script runs; on a quiet server a CSV of raw logs stayed
downloadable after logout. Real server, Debian chromium, plain HTTP for the URL afterwards.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from tests.dashboard_fixtures import session_a_rows, write_session
from tests.e2e.conftest import login, wait_for_streamlit


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_download_url_is_gone_after_logout(start_app, page, tmp_path):
    root = tmp_path / "logs"
    write_session(root, "p01", "s-a", session_a_rows(), source="video")
    app = start_app(root)
    page.goto(app.url)
    login(page)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="All raw logs (CSV)").click()
    url = info.value.url
    assert "/media/" in url and "p01" in info.value.path().read_text()
    assert _status(url) == 200  # anyone with the URL, no cookie, while logged in

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for(timeout=30_000)
    wait_for_streamlit(page)
    assert _status(url) == 404
