"""AppTest: a damaged session is named on the pages, and no page fails because of it.

Issue 14: deleting one closed session's compaction manifest made every page (Admin included)
throw; a session label with image markdown made the browser fetch a URL. The store here holds a
healthy session (p01/s-a), a session whose manifest was lost beside leftover parts (p01/lost),
one with an unreadable file (p01/broken), one whose data file was truncated and then repaired
(p01/cut: what repair lost is on record in its metadata, issue 23) and one with an
image-markdown label (p01/s-b).
"""

from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from fer_core.logstore import LogStore
from tests.auth_fixtures import page_opener
from tests.dashboard_fixtures import session_a_rows, session_b_rows, write_session

EVIL_LABEL = "![x](http://attacker.invalid/t.png) [click](http://attacker.invalid) :red[big]"


@pytest.fixture
def app(tmp_path, monkeypatch):
    root = tmp_path / "logs"
    write_session(root, "p01", "s-a", session_a_rows(), source="video", label="intake")
    write_session(root, "p01", "s-b", session_b_rows(), source="video", label=EVIL_LABEL)
    LogStore(root).add_marker("p01", "s-b", EVIL_LABEL + " <a href='http://attacker.invalid'>x</a>",
                              session_b_rows()[1]["timestamp"])
    for name in ("lost", "broken"):
        write_session(root, "p01", name, session_a_rows(), source="video")
    lost = root / "subject=p01" / "session=lost"
    (lost / "part-c000001.parquet").rename(lost / "part-w00aa-000001.parquet")
    write_session(tmp_path / "copy", "p01", "lost", session_a_rows(), source="video")
    copy = tmp_path / "copy" / "subject=p01" / "session=lost" / "part-c000001.parquet"
    (lost / "part-c000001.parquet").write_bytes(copy.read_bytes())
    (lost / "_compaction-000001.json").unlink()  # which file is current: unknowable
    broken = root / "subject=p01" / "session=broken" / "part-c000001.parquet"
    broken.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    write_session(tmp_path / "cut", "p01", "cut", session_a_rows(), source="video")
    cut = tmp_path / "cut" / "subject=p01" / "session=cut"
    (cut / "part-c000001.parquet").write_bytes((cut / "part-c000001.parquet").read_bytes()[:99])
    LogStore(tmp_path / "cut").repair()  # repaired on its own, then put beside the others
    shutil.copytree(cut, root / "subject=p01" / "session=cut")
    return page_opener(monkeypatch, root, tmp_path / "auth")


def _warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/history.py"])
def test_pages_name_the_damaged_sessions_and_keep_working(app, page):
    text = _warnings(app(page))
    assert "3 damaged session(s)" in text
    assert "cut: repaired" in text and "row\\(s\\)" in text and "lost" in text
    assert "lost: compaction manifest \\_compaction-000001.json missing" in text
    assert "broken: 1 unreadable file\\(s\\)" in text


def test_session_page_of_a_skipped_session_says_so(app):
    at = app("pages/session.py", session="lost")
    assert "1 damaged session(s)" in _warnings(at)
    assert at.info and "no logged frames" in at.info[0].value


@pytest.mark.parametrize("page", ["pages/compare.py", "pages/admin.py"])
def test_compare_and_admin_pages_work_with_a_damaged_session(app, page):
    app(page)


def test_session_label_is_plain_text_not_markdown(app):
    at = app("pages/session.py", session="s-b")
    caption = next(c.value for c in at.caption if "session `s-b`" in c.value)
    assert "![x](http" not in caption and "\\!\\[x\\]\\(http" in caption
    assert ":red[" not in caption
    assert LogStore().session_meta("p01", "s-b").label == EVIL_LABEL  # stored unchanged
    # the segment table is a dataframe: its cells show text as it is, never as Markdown
    segments = next(d.value for d in at.dataframe if "duration (s)" in d.value.columns)
    assert segments["label"].tolist() == [
        EVIL_LABEL + " <a href='http://attacker.invalid'>x</a>"]
    assert not [t for t in at.table if "label" in t.value.columns]  # no Markdown table of them
    annotations = [a["text"] for el in at.get("plotly_chart")
                   for a in json.loads(el.proto.spec)["layout"].get("annotations", [])]
    assert annotations and all("<a href" not in t for t in annotations)
    assert any("&lt;a href=" in t for t in annotations)
