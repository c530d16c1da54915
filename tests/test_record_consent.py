"""Consent is per recording: the Record page (AppTest, real model, real auth) asks again for a new
subject and after every STOP, and audits the start and end of every recording."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import webrtc_glue as glue
from fer_core.auth import Role
from fer_core.recording import SessionResult
from tests.auth_fixtures import add_account, log_in, use_auth_dir
from tests.dashboard_fixtures import session_a_rows, write_session

PAGE = "../dashboard/pages/record.py"


@pytest.fixture
def auth(tmp_path, monkeypatch):
    monkeypatch.setattr(glue, "camera", _FakeCamera)  # AppTest has no WebRTC component runtime
    _FakeCamera.playing = False
    root = tmp_path / "logs"
    write_session(root, "p01", "s-a", session_a_rows(), source="video")
    write_session(root, "p02", "s-a", session_a_rows(), source="video")
    monkeypatch.setenv("FER_LOG_ROOT", str(root))
    monkeypatch.setenv("FER_MEDIA_DIR", str(tmp_path / "media"))
    auth = use_auth_dir(monkeypatch, tmp_path / "auth")
    add_account(auth, "psy", Role.PSYCHOLOGIST, ("p01", "p02"))
    return auth


def _page(user: str = "psy") -> AppTest:
    at = log_in(AppTest.from_file(PAGE, default_timeout=120), user)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _consent(at: AppTest):
    return at.checkbox(key="record.consent")


def _camera_locked(at: AppTest) -> bool:
    return any("tick the consent box" in i.value for i in at.info)


def test_consent_resets_when_the_subject_changes(auth):
    at = _page()
    at.selectbox(key="record.subject_choice").set_value("p01").run()
    _consent(at).check().run()
    assert _consent(at).value and at.session_state["record.consent_at"]
    assert not _camera_locked(at)
    at.selectbox(key="record.subject_choice").set_value("p02").run()
    assert not _consent(at).value
    assert at.session_state["record.consent_at"] is None
    assert _camera_locked(at)
    # a new subject id typed in: asked again too
    _consent(at).check().run()
    at.selectbox(key="record.subject_choice").set_value("New subject…").run()
    assert not _consent(at).value


def test_consent_resets_after_stop_and_both_ends_are_audited(auth):
    at = _page()
    at.selectbox(key="record.subject_choice").set_value("p01").run()
    _consent(at).check().run()
    recorder = at.session_state["record.recorder"]
    # what STOP leaves behind (the recorder's own life cycle is tested in test_pipeline_live)
    recorder.finished = SessionResult("p01", "20261130T100000Z-abcd", "webcam", 40, 40, 40)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not _consent(at).value and _camera_locked(at)
    entries = [e for e in auth.audit.entries() if e["action"].startswith("record_")]
    target = "subject=p01 session=20261130T100000Z-abcd"
    assert [(e["action"], e["target"], e["user"]) for e in entries] == [
        ("record_start", target, "psy"), ("record_stop", target, "psy")]
    assert entries[1]["details"]["frames"] == 40
    at.run()  # audited once, not on every rerun
    assert len([e for e in auth.audit.entries() if e["action"].startswith("record_")]) == 2


def test_consent_record_names_subject_operator_version_and_tick_time(auth, monkeypatch):
    armed: list = []
    original = glue.WebRtcRecorder.arm

    def spy(self, info, **kwargs):
        armed.append(info)
        return original(self, info, **kwargs)

    monkeypatch.setattr(glue.WebRtcRecorder, "arm", spy)
    at = _page()
    at.selectbox(key="record.subject_choice").set_value("p01").run()
    _consent(at).check().run()
    ticked = at.session_state["record.consent_at"]
    _FakeCamera.playing = True
    at.run()
    settings = [s for s in armed if s is not None][-1]
    assert settings.consent == {
        "given": True, "text": settings.consent["text"], "text_version": "1 (2026-11-27)",
        "subject": "p01", "obtained_by": "psy", "at": ticked}
    assert settings.operator == "psy"


class _FakeCamera:
    """Stands in for the webrtc component: reports a playing stream, then ends the loop."""

    playing = False

    def __init__(self, recorder) -> None:
        self.state = self

    @property
    def signalling(self) -> bool:
        return _FakeCamera.playing

    def __getattribute__(self, name):
        if name == "playing":  # the page polls while playing; stop after the first look
            value = _FakeCamera.playing
            _FakeCamera.playing = False
            return value
        return object.__getattribute__(self, name)


def test_new_subject_refuses_an_id_that_exists(auth):
    at = _page()
    at.selectbox(key="record.subject_choice").set_value("New subject…").run()
    at.text_input(key="record.new_subject").set_value("p01").run()
    assert [e.value.replace("\\", "") for e in at.error] == [  # say() escapes Markdown
        "Subject p01 already exists: choose it in the Subject list instead of creating it "
        "again."]
    _consent(at).check().run()
    assert _camera_locked(at)  # no camera and no upload for a duplicate subject
    assert at.button(key="record.analyse").disabled
    at.text_input(key="record.new_subject").set_value("p03").run()
    assert not at.error


def test_the_page_starts_on_the_subject_picked_in_the_sidebar(auth):
    at = log_in(AppTest.from_file(PAGE, default_timeout=120), "psy")
    at.session_state["shared.subject"] = "p02"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="record.subject_choice").value == "p02"
    at.selectbox(key="record.subject_choice").set_value("p01").run()  # the user's choice stays
    assert at.selectbox(key="record.subject_choice").value == "p01"
