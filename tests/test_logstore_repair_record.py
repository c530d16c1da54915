"""``logs repair`` tells the truth: what it lost is recorded in the session's metadata, counts
and duration come from what remains, and provenance is never invented (issue 23, item 3).

Before: a demo session whose ``_session.json`` was garbled came back as ``synthetic: false,
source: webcam`` (synthetic data passing for a real recording), and a session whose data file
was truncated listed as ``closed`` with 0 rows, empty ``damage`` and its old duration -- the
loss was only in the repair report. Real files, the real writer and CLI.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from fer_core.logstore import CorruptFileWarning, LogStore
from fer_core.logstore.compaction import compact_session
from fer_core.logstore.synthetic import synthetic_rows
from tests.store_fixtures import T0

CONSENT = {"given": True, "by": "dr-x", "form": "v2"}
DEMO = {"source": "synthetic", "synthetic": True, "operator": "demo operator",
        "consent": CONSENT}


def _session(store: LogStore, subject: str, session: str, n: int = 60, *,
             compact: bool = True, **meta) -> Path:
    w = store.open_session(subject, session, started_at=T0, model_name="synthetic",
                           model_version="0", label=f"label {session}", **meta)
    source = meta.get("source", "synthetic")
    if not compact:
        w._compact_on_close = False
        for k in range(3):
            w.append_many(synthetic_rows(n // 3, T0, first_frame=k * (n // 3), source=source))
            w.flush()
    else:
        w.append_many(synthetic_rows(n, T0, source=source))
    w.close()
    return store.root / f"subject={subject}" / f"session={session}"


def damaged_store(root: Path) -> LogStore:
    """Synthetic demo sessions, each damaged one way (the issue's probes), plus an intact one.

    * ``lost``: a crash left superseded parts beside the compacted file, then its manifest
      was deleted (which file is current: unknowable);
    * ``trunc``: the compacted data file truncated to half (its footer is gone);
    * ``garbled``: ``_session.json`` cut mid-way (unparsable);
    * ``salvage``: ``_session.json`` parses but its start time is garbage;
    * ``nometa``: a video session's ``_session.json`` deleted;
    * ``ok``: untouched.
    """
    store = LogStore(root)
    _session(store, "007", "ok", **DEMO)
    lost = _session(store, "007", "lost", compact=False, **DEMO)
    parts = {p.name: p.read_bytes() for p in lost.glob("part-w*.parquet")}
    compact_session(lost)
    for name, data in parts.items():
        (lost / name).write_bytes(data)
    (lost / "_compaction-000001.json").unlink()
    trunc = _session(store, "007", "trunc", **DEMO) / "part-c000001.parquet"
    trunc.write_bytes(trunc.read_bytes()[: trunc.stat().st_size // 2])
    garbled = _session(store, "P002", "garbled", **DEMO) / "_session.json"
    garbled.write_bytes(garbled.read_bytes()[:40])
    salvage = _session(store, "P002", "salvage", **DEMO) / "_session.json"
    data = json.loads(salvage.read_bytes())
    data["started_at"] = "yesterday-ish"
    salvage.write_text(json.dumps(data))
    nometa = _session(store, "P002", "nometa", source="video", operator="dr-y")
    (nometa / "_session.json").unlink()
    return store


@pytest.fixture
def repaired(tmp_path):
    store = damaged_store(tmp_path / "logs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        before = store.list_sessions().set_index("session")
        results = {r.session: r for r in store.repair_report()}
    return store, before, results


def test_before_repair_every_damage_is_listed(tmp_path):
    store = damaged_store(tmp_path / "logs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        listed = store.list_sessions().set_index("session")
    assert set(listed.index[listed["status"] == "damaged"]) == {
        "lost", "trunc", "garbled", "salvage", "nometa"}


def test_a_lost_file_is_recorded_with_rows_seconds_files_and_time(repaired):
    store, before, results = repaired
    assert before.loc["trunc", "duration_s"] == pytest.approx(59 / 30, abs=0.01)
    meta = store.session_meta("007", "trunc")
    (record,) = meta.damage
    assert record["rows_lost"] == 60  # from the compaction manifest: the footer is gone
    assert record["seconds_lost"] == pytest.approx(1.999)  # the summary's recorded time
    assert record["files"] == ["_damaged-part-c000001.parquet.quarantined"]
    assert record["repaired_at"].startswith("20") and record["ended_at_before"]
    row = store.list_sessions().set_index("session").loc["trunc"]
    assert row["status"] == "damaged" and row["n_rows"] == 0 and row["n_frames"] == 0
    assert row["duration_s"] == 0  # recomputed from what remains, not the old 1.97 s
    assert "60 row(s) and 1.999 s lost" in row["damage"]
    assert "trunc" in results and results["trunc"].unreadable


def test_repair_never_changes_provenance(repaired):
    store, _, _ = repaired
    for session in ("ok", "lost", "trunc"):  # metadata intact: provenance untouched
        meta = store.session_meta("007", session)
        assert (meta.source, meta.synthetic, meta.operator, meta.consent) == (
            "synthetic", True, "demo operator", CONSENT), session
    # unparsable metadata: the rows say synthetic, so synthetic it stays; what cannot be
    # read is recorded as lost, never filled in as "webcam" or "no consent"
    garbled = store.session_meta("P002", "garbled")
    assert garbled.synthetic is True and garbled.source == "synthetic"
    assert garbled.model_name == "synthetic"
    (record,) = garbled.damage
    assert {"operator", "consent", "segments"} <= set(record["metadata_lost"])
    assert record["rows_lost"] == 0 and record["files"] == [
        "_damaged-_session.json.quarantined"]
    # parsable metadata with one bad field: every readable field is kept
    salvage = store.session_meta("P002", "salvage")
    assert (salvage.source, salvage.synthetic, salvage.operator, salvage.consent,
            salvage.label) == ("synthetic", True, "demo operator", CONSENT, "label salvage")
    assert set(salvage.damage[0]["metadata_lost"]) == {"segments"}
    # deleted metadata of a video session: source from its rows, operator recorded as lost
    nometa = store.session_meta("P002", "nometa")
    assert (nometa.source, nometa.synthetic, nometa.operator) == ("video", False, "")
    assert "operator" in nometa.damage[0]["metadata_lost"]


def test_counts_after_repair_come_from_what_remains(repaired):
    store, _, _ = repaired
    after = store.list_sessions().set_index("session")
    assert after.loc["lost", "n_rows"] == 60 and after.loc["lost", "status"] == "closed"
    assert after.loc["lost", "damage"] == ""  # rebuilt exactly: nothing was lost
    for session in ("ok", "garbled", "salvage", "nometa"):
        assert after.loc[session, "n_rows"] == 60
    assert set(after.index[after["status"] == "damaged"]) == {
        "trunc", "garbled", "salvage", "nometa"}  # each loss stays on record
    assert len(store.read()) == 60 * 5
    subjects = store.list_subjects().set_index("subject")
    assert subjects.loc["007", "n_rows"] == 120 and bool(subjects.loc["007", "synthetic"])
    assert store.repair_report() == []  # a second repair has nothing to do, loses no record
    assert store.list_sessions().set_index("session")["damage"].equals(after["damage"])
