"""Real server + real chromium: a review machine that records nothing shows every site's
subjects on Overview, read from a central store on a local S3-compatible server (issue 22).

Two sites publish to the bucket (moto's server mode, tests/central_fixtures.py); the app starts
on an empty cache folder with review mode on and only the central store configured.
"""

from __future__ import annotations

import pytest

from fer_core.central import resolve_central
from fer_core.central.publish import publish_all
from tests.central_fixtures import central, s3_endpoint, synthetic_store
from tests.e2e.conftest import login, rerun_after, wait_for_streamlit

__all__ = ["central", "s3_endpoint"]  # fixtures used by name

pytestmark = pytest.mark.e2e


def test_overview_shows_both_sites_subjects(central, start_app, page, tmp_path, monkeypatch):
    for site, subjects in (("site-a", ["A-01", "BOTH-1"]), ("site-b", ["B-07", "BOTH-1"])):
        store = synthetic_store(tmp_path / site, [(s, "x", 20) for s in subjects])
        results = publish_all(store, resolve_central(site=site))
        assert {r.action for r in results} == {"published"}
    monkeypatch.delenv("FER_SITE")  # the review machine has no site: it records nothing
    app = start_app(tmp_path / "cache", FER_CENTRAL_REVIEW="1")
    page.goto(app.url)
    login(page)
    wait_for_streamlit(page)
    assert page.get_by_text("3 of 3 subjects").count() == 1, app.log_text()[-3000:]
    search = page.get_by_label("Search subjects")
    for subject in ("A-01", "B-07", "BOTH-1"):  # one site's, the other's, and one in both
        rerun_after(page, lambda s=subject: (search.fill(s), search.press("Enter")))
        assert page.get_by_text("1 of 3 subjects").count() == 1, subject
