"""``LogStore.data_token``: what the Session summary's caches are keyed on (issue 19, item 6).

Saving a note or a marker must not invalidate what was computed from a session's frames (the
page then redraws from the cache), while any change of the frames themselves must.
"""

from __future__ import annotations

from datetime import timedelta

from fer_core.logstore import LogStore
from tests.dashboard_fixtures import T0, session_a_rows, session_b_rows, write_session


def test_notes_and_markers_keep_the_data_token_new_frames_change_it(tmp_path):
    write_session(tmp_path, "p01", "s-a", session_a_rows(), source="video")
    store = LogStore(tmp_path)
    before, store_before = store.data_token("p01", "s-a"), store.state_token()
    store.update_notes("p01", "s-a", "calm")
    store.add_marker("p01", "s-a", "task 2", T0 + timedelta(seconds=3))
    assert store.data_token("p01", "s-a") == before  # metadata only: the frames' caches stay
    assert store.state_token() != store_before  # while the store's token sees the change

    write_session(tmp_path, "p01", "s-b", session_b_rows(), source="video")
    assert store.data_token("p01", "s-a") == before  # another session: unaffected
    assert store.data_token("p01", "s-b") not in (before, "missing")

    store.delete_session("p01", "s-a")
    assert store.data_token("p01", "s-a") == "missing"
