"""Issue 23 in a real browser: refusals are audited and explained, foreign text never becomes
markup, the metrics endpoint is closed, and a logged-out /overview is only the login form.

A real ``streamlit run dashboard/serve.py`` (the served app) on real Parquet sessions, Debian
chromium, accounts made through fer_core.auth, and a beacon: a small HTTP server on 127.0.0.1
that records every request. Markup pointing at the beacon is put into a session label, its
notes, a marker, the Record page's subject id box and a ZIP whose import is refused; the test
then asks the beacon whether the browser fetched anything.
"""

from __future__ import annotations

import http.server
import io
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fer_core.auth import Auth, Principal, Role
from fer_core.logstore import LogStore
from tests.dashboard_fixtures import T0, session_a_rows, session_b_rows, write_session
from tests.e2e.conftest import (
    E2E_ADMIN,
    E2E_PASSWORD,
    login,
    make_auth_dir,
    rerun_after,
    wait_for_streamlit,
    wait_until,
)

pytestmark = pytest.mark.e2e

SERVE = "dashboard/serve.py"


class Beacon:
    """An HTTP server on 127.0.0.1 that answers 200 to everything and remembers the paths."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.hits = hits
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def markup(self, name: str) -> str:
        """An image, an HTML image, a link and a bare URL, all pointing at the beacon."""
        return (f"![x]({self.url(name + '-md.png')}) <img src=\"{self.url(name + '-html.png')}\">"
                f" [click]({self.url(name + '-link')}) see {self.url(name + '-bare')}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def beacon() -> Iterator[Beacon]:
    b = Beacon()
    yield b
    b.close()


@pytest.fixture(scope="module")
def app(start_app, tmp_path_factory, beacon):
    root = tmp_path_factory.mktemp("store")
    write_session(root, "p01", "s-a", session_a_rows(), source="video",
                  label=beacon.markup("label"), notes=beacon.markup("notes"))
    write_session(root, "p02", "s-b", session_b_rows(), source="video")
    LogStore(root).add_marker("p01", "s-a", beacon.markup("marker")[:200], T0)
    auth_dir = make_auth_dir(tmp_path_factory.mktemp("auth"), view="viewer")
    Auth(auth_dir).set_assignment(Principal(E2E_ADMIN, Role.ADMIN), "p02", "view", True)
    return start_app(root, script=SERVE, auth_dir=auth_dir)


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _beacon_links(page, beacon: Beacon) -> list[str]:
    return page.evaluate(f"""() => Array.from(document.querySelectorAll('a[href], img[src]'))
        .map(e => e.href || e.src).filter(u => u.includes(':{beacon.port}'))""")


def test_viewer_opening_an_unassigned_session_by_url_is_told_and_audited(app, page):
    page.goto(app.url)
    login(page, "view", E2E_PASSWORD)
    page.goto(f"{app.url}/session?subject=p01&session=s-a")
    wait_for_streamlit(page)
    page.get_by_text("Subject p01 is not open to your account").wait_for(timeout=60_000)
    text = _main_text(page)
    assert "not assigned to you" in text
    assert "s-a" not in text.replace("session=s-a", "")  # nothing of p01's session is shown
    denied = [e for e in Auth(app.auth_dir).audit.read(user="view", action="denied")
              if "subject=p01" in e["target"]]
    assert denied, "no denied entry for the unassigned subject"
    assert denied[-1]["target"] == "subject=p01 session=s-a"
    assert "not assigned" in denied[-1]["details"]["reason"]


def test_viewer_sent_to_a_closed_page_is_told_why_and_audited(app, page):
    page.goto(app.url)
    login(page, "view", E2E_PASSWORD)
    for path, title in (("admin", "Admin"), ("record", "Record")):
        page.goto(f"{app.url}/{path}")
        wait_for_streamlit(page)
        page.get_by_text(f"The {title} page is not open to your account (viewer)").wait_for(
            timeout=60_000)
        assert "Page not found" not in page.content()
        entry = Auth(app.auth_dir).audit.read(user="view", action="denied")[-1]
        assert entry["target"] == f"page={title}" and "role viewer" in entry["details"]["reason"]


def test_logged_out_overview_is_only_the_login_form(app, page):
    page.goto(f"{app.url}/overview")
    wait_for_streamlit(page)
    page.get_by_role("heading", name="Log in").wait_for(timeout=60_000)
    assert "Page not found" not in page.content()
    assert "not found" not in page.locator("body").inner_text().lower()


def test_metrics_endpoint_does_not_answer(app):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{app.url}/_stcore/metrics", timeout=10)
    assert err.value.code == 404
    with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=10) as ok:
        assert ok.status == 200  # the rest of the server still answers


def _refused_zip(beacon: Beacon, tmp_path) -> tuple[bytes, str]:
    """An export ZIP whose import is refused with a message quoting one row's label."""
    store = tmp_path / "zip_src"
    write_session(store, "z01", "s-z", session_a_rows(), source="video")
    data = LogStore(store).export("zip", subject="z01")
    payload = f"![z]({beacon.url('zip-md.png')})"
    with zipfile.ZipFile(io.BytesIO(data)) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    table = pq.read_table(io.BytesIO(members["data.parquet"]))
    labels = table.column("label").to_pylist()
    labels[0] = payload
    table = table.set_column(table.schema.get_field_index("label"), "label",
                             pa.array(labels, table.schema.field("label").type))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    members["data.parquet"] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for name, body in members.items():
            zout.writestr(name, body)
    with pytest.raises(ValueError) as refused:  # the precondition: the refusal quotes it
        LogStore(tmp_path / "probe").import_zip(out.getvalue())
    assert payload in str(refused.value), str(refused.value)
    return out.getvalue(), payload


def test_no_foreign_text_becomes_markup(app, page, beacon, start_app, tmp_path):
    beacon.hits.clear()
    page.goto(app.url)
    login(page)
    # the session page: label (caption), notes (text area), marker (table and chart)
    page.goto(f"{app.url}/session?subject=p01&session=s-a")
    wait_for_streamlit(page)
    page.get_by_role("heading", name="Session — p01").wait_for(timeout=60_000)
    shown_as_text = {"label": "label-md.png" in _main_text(page)}
    seen_links = _beacon_links(page, beacon)
    # the Record page: an invalid subject id quoted in its error message
    page.goto(f"{app.url}/record")
    wait_for_streamlit(page)
    # the page starts on the subject picked in the sidebar (p01): choose a new one
    page.locator('[data-testid="stMain"]').get_by_label("Subject", exact=True).click()
    page.get_by_role("option", name="New subject…").click()
    wait_for_streamlit(page)
    box = page.get_by_label("New subject id")
    box.wait_for(timeout=120_000)
    rerun_after(page, lambda: (box.fill(f"![r]({beacon.url('record.png')})"), box.press("Enter")))
    page.locator('[data-testid="stAlertContentError"]').first.wait_for(timeout=60_000)
    shown_as_text["typed id"] = "record.png" in _main_text(page)
    seen_links += _beacon_links(page, beacon)

    # an import refusal on an empty store (the admin's empty state)
    data, _ = _refused_zip(beacon, tmp_path)
    empty = start_app(tmp_path / "empty_store", script=SERVE,
                      auth_dir=make_auth_dir(tmp_path / "auth_empty"))
    page.goto(empty.url)
    login(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "export.zip", "mimeType": "application/zip", "buffer": data}])
    page.get_by_text("Could not import export.zip").wait_for(timeout=60_000)
    shown_as_text["zip refusal"] = "zip-md.png" in _main_text(page)
    seen_links += _beacon_links(page, beacon)

    # give the browser every chance to have fetched something: wait for a hit (none comes)
    wait_until(lambda: beacon.hits, 3, tick=lambda s: page.wait_for_timeout(1000 * s))
    assert beacon.hits == [], f"the browser fetched {beacon.hits}"
    assert seen_links == [], f"links or images to the beacon in the page: {seen_links}"
    assert all(shown_as_text.values()), f"markup not shown as text: {shown_as_text}"
