"""Issue 23, dashboard side without a browser: the plain-text helper, and a login on a full
disk (the throttle file cannot be written) that is refused with a clear message."""

from __future__ import annotations

import errno
import re

from streamlit.testing.v1 import AppTest

from dashboard.plaintext import WORD_JOINER, plain
from fer_core.auth import Throttle
from tests.auth_fixtures import PW, log_in, use_auth_dir

APP = "../dashboard/app.py"


def test_plain_leaves_no_markdown_construct():
    text = plain("![x](http://h/b.png) <img src=x> [a](b) **b** :red[c] $x$ a@b.io www.h.io\nz")
    unescaped = re.findall(r"(?<!\\)[\[\]()<>*:$!@`_|~&]", text)
    assert unescaped == [], text
    assert "://" not in text.replace("\\", "")  # http:⁠// is no autolink
    assert "www" + WORD_JOINER + "." in text and "@" + WORD_JOINER in text
    assert "\n" not in text
    assert plain("- item").startswith("\\-") and plain("12. x") == "12\\. x"
    assert plain("demo-x") == "demo-x" and plain("Wrong password.") == "Wrong password."


def test_login_on_a_full_disk_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path / "logs"))
    use_auth_dir(monkeypatch, tmp_path / "auth")

    def full(self, username):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Throttle, "reserve", full)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="auth.user").input("admin")
    at.text_input(key="auth.password").input(PW)
    at.button[0].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    message = at.error[0].value
    assert "not possible right now" in message and "No space left on device" in message
    assert "OSError" not in message and "Errno" not in message
    assert at.title[0].value == "Log in"


def test_admin_page_reports_a_truncated_audit_line_without_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path / "logs"))
    auth = use_auth_dir(monkeypatch, tmp_path / "auth")
    auth.audit.write("admin", "delete", "subject=p01")
    path = auth.audit.files()[-1]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:40])
    at = log_in(AppTest.from_file(APP, default_timeout=60))
    at.run()
    at.switch_page("pages/admin.py").run()
    assert not at.exception, [e.value for e in at.exception]
    report = [e.value for e in at.error if "tampering" in e.value]
    assert len(report) == 1 and "truncated" in report[0], [e.value for e in at.error]
