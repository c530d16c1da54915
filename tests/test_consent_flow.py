"""The Record page's consent/audit rules and live read-out tables, without Streamlit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dashboard import charts
from fer_core import consent_flow as flow
from fer_core import live_view
from fer_core.labels import FER2013_CLASSES
from fer_core.live import LiveUpdate
from fer_core.recording import SessionResult

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class Log:
    """An audit callback that keeps what it was given."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, dict]] = []

    def __call__(self, action: str, target: str, **details) -> None:
        self.entries.append((action, target, details))


def test_consent_tick_time_and_reset_on_the_next_run():
    state: dict = {flow.CONSENT_KEY: True}
    flow.consent_changed(state, now=lambda: T0)
    assert flow.consent_at(state) == "2026-11-27T10:00:00+00:00"
    flow.request_reset(state)
    assert flow.consent_at(state)  # this run's checkbox is drawn: unchanged until the next
    flow.apply_pending_reset(state)
    assert state[flow.CONSENT_KEY] is False and flow.consent_at(state) is None
    flow.apply_pending_reset(state)  # nothing pending: nothing happens
    assert state[flow.CONSENT_KEY] is False
    state[flow.CONSENT_KEY] = False
    flow.consent_changed(state)
    assert state[flow.CONSENT_AT_KEY] is None


def test_each_recording_is_audited_once_at_start_and_end():
    state: dict = {flow.CONSENT_KEY: True, flow.CONSENT_AT_KEY: "t"}
    log = Log()
    assert flow.audit_start(state, log, "p01", "s1")
    assert not flow.audit_start(state, log, "p01", "s1")  # every rerun after: nothing
    fin = SessionResult("p01", "s1", "webcam", frames=40, rows=41)
    assert flow.audit_end(state, log, fin)
    assert not flow.audit_end(state, log, fin)
    assert log.entries == [
        ("record_start", "subject=p01 session=s1", {"consent_at": "t"}),
        ("record_stop", "subject=p01 session=s1", {"frames": 40, "rows": 41})]
    assert state[flow.CONSENT_RESET_KEY] is True  # consent asked again next time
    # a recording too short to be seen live is audited at its start too; an upload is not
    short = SessionResult("p01", "s2", "webcam", frames=1, rows=1)
    flow.audit_end(state, log, short)
    upload = SessionResult("p01", "s3", "image", frames=2, rows=2)
    flow.audit_end(state, log, upload, action="analyse")
    assert [e[0] for e in log.entries[2:]] == ["record_start", "record_stop", "analyse"]
    assert not flow.audit_end(state, log, None)


def test_consent_record_names_words_version_subject_who_and_when():
    record = flow.consent_record("p01", "2026-11-27T10:00:00+00:00", {"obtained_by": "psy"})
    assert record == {"given": True, "text": flow.CONSENT_TEXT,
                      "text_version": flow.CONSENT_TEXT_VERSION, "subject": "p01",
                      "obtained_by": "psy", "at": "2026-11-27T10:00:00+00:00"}


def test_a_new_subject_id_must_be_valid_and_new():
    existing = ["P017", "p01"]
    assert flow.new_subject_problem("P018", existing) is None
    assert flow.new_subject_problem("", existing) == "Enter a subject id."
    assert "not allowed" in flow.new_subject_problem("../evil", existing)
    assert flow.new_subject_problem("P017", existing) == (
        "Subject P017 already exists: choose it in the Subject list instead of creating it "
        "again.")
    assert flow.new_subject_problem("p017", existing).startswith(
        "Subject P017 already exists (differing only in case from p017)")


def _update(i: int, probs=None) -> LiveUpdate:
    top = None if probs is None else int(np.argmax(probs))
    return LiveUpdate(i, T0 + timedelta(seconds=i / 2), float(i), probs,
                      None if top is None else FER2013_CLASSES[top],
                      None if top is None else float(probs[top]), 0 if probs is None else 1)


def test_live_bars_are_in_fer2013_order_like_every_chart():
    probs = np.array([0.05, 0.0, 0.05, 0.7, 0.1, 0.05, 0.05])
    bars = live_view.probability_bars(probs)
    assert bars["class"].tolist() == list(FER2013_CLASSES)  # angry first, not alphabetical
    assert bars["probability"].tolist() == pytest.approx(probs.tolist())
    fig = charts.live_bars(bars)
    assert list(fig.data[0].y) == list(FER2013_CLASSES)
    assert list(fig.layout.yaxis.categoryarray) == list(FER2013_CLASSES)
    assert fig.layout.yaxis.categoryorder == "array"
    with pytest.raises(ValueError):
        live_view.probability_bars([0.5, 0.5])


def test_live_chart_rows_break_where_no_face_was_seen():
    probs = np.full(7, 1 / 7)
    rows = live_view.chart_rows([_update(0, probs), _update(1), _update(2, probs)])
    assert rows["seconds"].tolist() == [-1.0, -0.5, 0.0]
    assert math.isnan(rows.loc[1, "happy"]) and rows.loc[0, "happy"] == pytest.approx(1 / 7)
    assert live_view.chart_rows([]).empty


def test_live_status_says_frames_rate_and_face():
    assert live_view.live_status([], 0.0).face_text == "—"
    probs = np.array([0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0])
    found = live_view.live_status([_update(0), _update(1, probs)], 7.5)
    assert (found.frames, found.fps, found.face_text) == (2, 7.5, "yes")
    assert found.now_text == "**happy** (90%)"
    gone = live_view.live_status([_update(1, probs), _update(2)], 7.5)
    assert gone.face_text == "no" and gone.now_text == "no face in view"
