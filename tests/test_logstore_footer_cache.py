"""Footer facts kept on disk (fer_core.logstore.footer_cache): a restarted app lists a store
without re-verifying every page, and still sees every file changed since. Real files."""

from __future__ import annotations

import json
import os
import warnings

import pytest

from fer_core.logstore import CorruptFileWarning, LogStore, footer_cache, reader
from fer_core.logstore.synthetic import synthetic_rows
from tests.store_fixtures import T0
from tests.test_logstore_checksums import flip_page_bytes


def _restart(monkeypatch) -> list[str]:
    """Forget what this process knows (as a new process would) and record every page
    verification from here on."""
    monkeypatch.setattr(reader, "_cache", {})
    monkeypatch.setattr(footer_cache, "_loaded", {})
    monkeypatch.setattr(footer_cache, "_synced", {})
    verified: list[str] = []
    real = reader.verify_pages

    def counting(pf):
        verified.append(str(pf))
        return real(pf)

    monkeypatch.setattr(reader, "verify_pages", counting)
    return verified


@pytest.fixture()
def store(tmp_path) -> LogStore:
    store = LogStore(tmp_path / "logs")
    for sess in ("a", "b", "c"):
        with store.open_session("P001", sess, started_at=T0, source="video") as w:
            w.append_many(synthetic_rows(300, T0, source="video"))
    return store


def test_a_restart_lists_without_verifying_again(store, monkeypatch):
    first = store.list_sessions()
    stored = json.loads((store.root / footer_cache.CACHE_FILE).read_bytes())
    assert len(stored["files"]) == 3
    verified = _restart(monkeypatch)
    again = store.list_sessions()
    assert verified == []  # every fact came from the file
    assert again.equals(first)
    assert LogStore(store.root).list_subjects()["subject"].tolist() == ["P001"]


def test_a_file_changed_since_is_inspected_again_and_its_damage_seen(store, monkeypatch):
    store.list_sessions()
    path = next((store.root / "subject=P001" / "session=b").glob("*.parquet"))
    flip_page_bytes(path)  # same size: only the modification time tells
    verified = _restart(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        listed = store.list_sessions().set_index("session")
    assert len(verified) == 1  # only the changed file
    assert listed.loc["b", "status"] == "damaged"
    assert listed.loc["a", "status"] == "closed" and listed.loc["c", "status"] == "closed"
    stored = json.loads((store.root / footer_cache.CACHE_FILE).read_bytes())["files"]
    assert not any("session=b" in rel for rel in stored)  # a damaged file is never stored
    _restart(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        assert store.list_sessions().set_index("session").loc["b", "status"] == "damaged"


def test_an_unreadable_cache_file_is_ignored_and_rewritten(store, monkeypatch):
    first = store.list_sessions()
    (store.root / footer_cache.CACHE_FILE).write_text("{not json")
    verified = _restart(monkeypatch)
    assert store.list_sessions().equals(first)
    assert len(verified) == 3
    assert len(json.loads((store.root / footer_cache.CACHE_FILE).read_bytes())["files"]) == 3


def test_deleted_sessions_leave_the_cache_file(store, monkeypatch):
    store.list_sessions()
    store.delete_session("P001", "a")
    with store.open_session("P001", "d", started_at=T0, source="video") as w:
        w.append_many(synthetic_rows(10, T0, source="video"))
    store.list_sessions()
    stored = json.loads((store.root / footer_cache.CACHE_FILE).read_bytes())["files"]
    assert sorted(rel.split(os.sep)[1] for rel in stored) == [
        "session=b", "session=c", "session=d"]


def test_erasing_a_subject_leaves_no_entry_naming_it(store, monkeypatch):
    with store.open_session("Q002", "z", started_at=T0, source="video") as w:
        w.append_many(synthetic_rows(10, T0, source="video"))
    store.list_sessions()
    cache_file = store.root / footer_cache.CACHE_FILE
    assert "P001" in cache_file.read_text()
    store.delete_subject("P001")
    assert "P001" not in cache_file.read_text()
    assert "Q002" in cache_file.read_text()  # the other subject's facts stay
    store.delete_session("Q002", "z")
    assert "Q002" not in cache_file.read_text()
