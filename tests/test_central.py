"""The central store (issue 22): sessions recorded with ``analyze`` into a local store,
published to Delta tables on a real S3-compatible server (moto's server mode on 127.0.0.1,
tests/central_fixtures.py), and read back by fer_core and by every recipe of
docs/log-format.md's *Central store* section with the counts fer_core has locally.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fer_core.central import reader, resolve_central
from fer_core.central.location import CentralConfigError, central_session_id, parse_location
from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore
from fer_core.video_fixture import blank_frame, write_y4m
from tests.central_fixtures import SECRET, Central, central, s3_endpoint, synthetic_store
from tests.core_data import detectable_face_frame

__all__ = ["central", "s3_endpoint"]  # fixtures used by name

DOC = PROJECT_ROOT / "docs" / "log-format.md"
FACE = PROJECT_ROOT / "tests" / "fixtures" / "fer2013" / "test" / "happy"
START = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
DOC_URI = "s3://fer-central/study"


def _cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
                          **kw)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, model_path) -> Path:
    """A local store recorded by ``analyze``: P001/clip and 007/clip (the same local id)."""
    tmp = tmp_path_factory.mktemp("recorded")
    face = detectable_face_frame(FACE)
    video = write_y4m(tmp / "clip.y4m", [blank_frame()] * 5 + [face] * 15 + [blank_frame()] * 5,
                      fps=10)
    root = tmp / "logs"
    for subject in ("P001", "007"):
        done = _cli("analyze", str(video), "--subject", subject, "--session", "clip",
                    "--start", START.isoformat(), "--no-progress", "--root", str(root))
        assert done.returncode == 0, done.stderr
    return root


def _copy(recorded: Path, tmp_path: Path) -> LogStore:
    shutil.copytree(recorded, tmp_path / "logs")
    return LogStore(tmp_path / "logs")


def _local_counts(store: LogStore, site: str = "siteA") -> dict[tuple[str, str], int]:
    return {(r.subject, central_session_id(site, r.session)): int(r.n_rows)
            for r in store.list_sessions().itertuples()}


def _doc_recipes() -> list[str]:
    text = DOC.read_text()
    section = text[text.index("## Central store"):text.index("## Command line")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _recipe(word: str) -> str:
    (code,) = [b for b in _doc_recipes() if word in b]
    return code


def _run_recipe(word: str, c: Central) -> dict:
    scope: dict = {}
    exec(_recipe(word).replace(DOC_URI, c.uri), scope)
    return scope


def _counts_of(word: str, c: Central) -> dict[tuple[str, str], int]:
    """Rows per (subject, session) for P001, as each documented recipe computes them."""
    scope = _run_recipe(word, c)
    if word == "reader.read_frames":
        t = scope["frames"]
        pairs = zip(t.column("subject").to_pylist(), t.column("session").to_pylist(), strict=True)
    elif word == "pl.scan_delta":
        return {(r["subject"], r["session"]): r["len"] for r in scope["counts"].to_dicts()}
    elif word == "duckdb":
        df = scope["counts"]
        return {(r.subject, r.session): int(r.n) for r in df.itertuples()}
    elif word == "join_type":
        t = scope["table"]
        pairs = zip(t.column("subject").to_pylist(), t.column("session").to_pylist(), strict=True)
    else:  # pandas
        df = scope["frame"]
        pairs = zip(df["subject"], df["session"], strict=True)
    out: dict[tuple[str, str], int] = {}
    for key in pairs:
        out[key] = out.get(key, 0) + 1
    return out


RECIPES = ["reader.read_frames", "pl.scan_delta", "duckdb", "join_type", "to_pandas("]


def test_every_central_recipe_is_tested():
    assert len(_doc_recipes()) == len(RECIPES) + 1  # + Spark, below
    for word in RECIPES:
        _recipe(word)  # exactly one block each


@pytest.mark.subprocess
def test_analyze_publish_and_read_back_with_every_engine(recorded, central, tmp_path):
    store = _copy(recorded, tmp_path)
    local = _local_counts(store)
    assert local[("P001", "siteA.clip")] == 25 and local[("007", "siteA.clip")] == 25

    done = _cli("logs", "--root", str(store.root), "publish", "--all")
    assert done.returncode == 0, done.stderr
    assert "P001/clip -> siteA.clip: published (25 rows)" in done.stdout
    assert "2 session(s) to s3://" in done.stdout and "2 published" in done.stdout

    c = resolve_central()
    assert reader.count_frames(c) == local
    p001 = {k: v for k, v in local.items() if k[0] == "P001"}
    for word in RECIPES:
        assert _counts_of(word, c) == p001, word
    # the rows themselves, not only their number: the local table, column for column
    back = reader.read_frames(c, "007")
    mine = store.read_table("007", "clip")
    assert back.column("timestamp").cast(mine.schema.field("timestamp").type).equals(
        mine.column("timestamp"))
    for col in ("frame_index", "face_detected", "label", "prob_happy", "box_x"):
        assert back.column(col).equals(mine.column(col)), col
    row = reader.list_sessions(c, "P001").iloc[0]
    meta = store.session_meta("P001", "clip")
    assert row["local_session"] == "clip" and row["site"] == "siteA"
    assert json.loads(row["meta_json"]) == json.loads(meta.to_json())
    assert json.loads(row["summary_json"])["n_frames"] == 25

    # idempotent: a second publish commits nothing at all
    versions = {k: _version(c, k) for k in ("frames", "sessions")}
    again = _cli("logs", "--root", str(store.root), "publish", "--all")
    assert again.returncode == 0 and again.stdout.count(": unchanged") == 2, again.stdout
    assert {k: _version(c, k) for k in ("frames", "sessions")} == versions
    assert reader.count_frames(c) == local

    # an edit after the fact merges into the sessions row; the frames stay as they are
    store.update_notes("P001", "clip", "reviewed")
    done = _cli("logs", "--root", str(store.root), "publish", "--subject", "P001",
                "--session", "clip")
    assert ": updated (25 rows)" in done.stdout
    assert reader.list_sessions(c, "P001").iloc[0]["notes"] == "reviewed"
    assert reader.count_frames(c) == local


def _version(c, name: str) -> int:
    from deltalake import DeltaTable

    return DeltaTable(f"{resolve_central().uri}/{name}").version()


PUBLISH_ALL = ("logs", "publish", "--all")


@pytest.mark.subprocess
def test_two_sites_publish_at_once_and_both_land(central, tmp_path):
    """Two stations, the same subject and the same local session ids, publishing together."""
    plan = [("P001", f"s{i}", 20 + i) for i in range(4)] + [("P002", "s0", 7)]
    stores = {site: synthetic_store(tmp_path / site, plan) for site in ("siteA", "siteB")}
    procs = [subprocess.Popen([sys.executable, "-m", "fer_core", "logs", "--root",
                               str(store.root), *PUBLISH_ALL[1:]], cwd=PROJECT_ROOT,
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT),
                                   "FER_SITE": site},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for site, store in stores.items()]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "5 published" in out, out
    c = resolve_central()
    expected = {**_local_counts(stores["siteA"], "siteA"),
                **_local_counts(stores["siteB"], "siteB")}
    assert len(expected) == 10
    assert reader.count_frames(c) == expected
    assert len(reader.list_sessions(c)) == 10


@pytest.mark.subprocess
def test_a_publish_killed_between_its_commits_counts_nothing_then_completes(central, tmp_path):
    store = synthetic_store(tmp_path / "logs", [("P001", "done", 12), ("P001", "cut", 30)])
    first = _cli("logs", "--root", str(store.root), "publish", "--subject", "P001",
                 "--session", "done")
    assert first.returncode == 0, first.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "fer_core", "logs", "--root", str(store.root), "publish",
         "--subject", "P001", "--session", "cut"], cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT),
             "FER_CENTRAL_PAUSE_AFTER_FRAMES": "120"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "frames of siteA.cut committed" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)

    c = resolve_central()
    from deltalake import DeltaTable

    raw = DeltaTable(c.frames_uri).to_pyarrow_table()
    assert raw.num_rows == 42  # the killed publish's frames are in the table ...
    only_done = {("P001", "siteA.done"): 12}
    assert reader.count_frames(c) == only_done  # ... and nobody counts them
    for word in RECIPES:
        assert _counts_of(word, c) == only_done, word

    again = _cli("logs", "--root", str(store.root), "publish", "--all")
    assert again.returncode == 0, again.stderr
    assert "P001/cut -> siteA.cut: completed (30 rows)" in again.stdout
    assert "P001/done -> siteA.done: unchanged" in again.stdout
    assert reader.count_frames(c) == _local_counts(store)
    assert DeltaTable(c.frames_uri).to_pyarrow_table().num_rows == 42  # nothing twice


def test_erasure_removes_every_object_holding_the_subject(central, tmp_path):
    from fer_core.auth import erase_subject

    subject = "ERASE-me-7"
    store = synthetic_store(tmp_path / "logs", [(subject, "a", 15), (subject, "b", 9),
                                                ("KEEP-1", "a", 11)])
    c = resolve_central()
    from fer_core.central.publish import publish_all

    assert {r.action for r in publish_all(store, c)} == {"published"}
    store.update_notes(subject, "a", "changed")  # a merge: an older sessions file too
    publish_all(store, c)
    assert any(subject in k for k in central.object_keys())

    removed = erase_subject(store, subject, tmp_path / "media")
    assert any("2 session row(s), 24 frame row(s)" in r for r in removed), removed
    keys = central.object_keys()
    assert not [k for k in keys if subject in k]
    holding = [k for k in keys if subject.encode() in central.body(k)]
    assert holding == [], holding  # no data file, no log entry, no checkpoint names it
    assert reader.count_frames(c) == {("KEEP-1", "siteA.a"): 11}
    assert not (store.root / ".central" / f"subject={subject}").exists()


@pytest.mark.subprocess
def test_credentials_never_reach_output_files_or_errors(central, tmp_path, monkeypatch):
    store = synthetic_store(tmp_path / "logs", [("P001", "s", 5)])
    # a bucket that does not exist: the publish fails, with a reason and without the secret
    done = _cli("logs", "--root", str(store.root), "publish", "--all",
                env={"FER_CENTRAL_STORE": "s3://no-such-bucket-here/x"})
    assert done.returncode == 1
    assert "P001/s -> siteA.s: failed" in done.stdout
    assert SECRET not in done.stdout + done.stderr
    state = (store.root / ".central" / "subject=P001" / "s.json").read_text()
    assert json.loads(state)["state"] == "failed" and SECRET not in state
    # a URL carrying the secret is refused, and the message does not repeat it
    done = _cli("logs", "--root", str(store.root), "publish", "--all",
                env={"FER_CENTRAL_STORE": f"s3://AKIDTEST:{SECRET}@bucket/x"})
    assert done.returncode == 2 and "must not carry credentials" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    # and so is a fer.toml holding a secret, naming the key but not the value
    (tmp_path / "fer.toml").write_text(f'[central]\nstore = "s3://b-b-b/x"\n'
                                       f'aws_secret_access_key = "{SECRET}"\n')
    monkeypatch.delenv("FER_CENTRAL_STORE")
    with pytest.raises(CentralConfigError, match="aws_secret_access_key") as err:
        resolve_central()
    assert SECRET not in str(err.value)
    (tmp_path / "fer.toml").unlink()
    c = resolve_central(f"s3://{central.bucket}/x")
    assert c.redact(f"boom {SECRET} boom") == "boom *** boom"
    assert SECRET not in repr(c)


def test_configuration_from_fer_toml_env_and_local_paths(tmp_path, monkeypatch):
    for var in ("FER_CENTRAL_STORE", "FER_SITE", "FER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_central() is None
    (tmp_path / "fer.toml").write_text('[central]\nstore = "central"\nsite = "lab-2"\n')
    c = resolve_central()
    assert c.uri == str(tmp_path / "central") and c.site == "lab-2" and not c.is_s3
    monkeypatch.setenv("FER_CENTRAL_STORE", "s3://my-bucket/a/b/")
    monkeypatch.setenv("FER_SITE", "lab_3")
    c = resolve_central()
    assert (c.uri, c.site, c.frames_uri) == ("s3://my-bucket/a/b", "lab_3",
                                             "s3://my-bucket/a/b/frames")
    for bad in ("gs://b/x", "s3://B/x", "s3://bucket/x?versionId=1", "  "):
        with pytest.raises(CentralConfigError):
            parse_location(bad)
    for bad_site in ("a.b", "", "x" * 25, "-a"):
        with pytest.raises(CentralConfigError):
            central_session_id(bad_site, "s")
    assert central_session_id("lab_3", "20261127T210501Z-ab12") == "lab_3.20261127T210501Z-ab12"
    from fer_core.cli import main

    root = str(tmp_path / "logs")
    assert main(["logs", "--root", root, "publish", "--session", "x"]) == 2  # needs --subject
    assert main(["logs", "--root", root, "publish"]) == 2  # says what to publish
    monkeypatch.delenv("FER_SITE")
    (tmp_path / "fer.toml").write_text('[central]\nstore = "central"\n')
    assert main(["logs", "--root", root, "publish", "--all"]) == 2  # no site name


def test_a_local_central_store_publishes_and_optimizes(tmp_path, monkeypatch):
    """The central store on a local path; three publishes, then `logs optimize` compacts."""
    for var in ("FER_CONFIG",):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FER_CENTRAL_STORE", str(tmp_path / "central"))
    monkeypatch.setenv("FER_SITE", "solo")
    store = synthetic_store(tmp_path / "logs", [("P001", f"s{i}", 10 + i) for i in range(3)])
    with store.open_session("P001", "live", source="synthetic", synthetic=True) as w:
        c = resolve_central()
        from fer_core.central.publish import publish_all

        results = {r.session: r.action for r in publish_all(store, c)}
        assert results == {"s0": "published", "s1": "published", "s2": "published",
                           "live": "waiting"}
        w.append({"timestamp": START, "frame_index": 0, "face_index": -1,
                  "face_detected": False})
    from deltalake import DeltaTable

    assert len(DeltaTable(c.frames_uri).file_uris()) == 3
    done = _cli("logs", "--root", str(store.root), "optimize")
    assert done.returncode == 0, done.stderr
    assert "frames: 3 -> 1 data file(s)" in done.stdout
    assert len(DeltaTable(c.frames_uri).file_uris()) == 1
    counts = _local_counts(store, "solo")
    counts.pop(("P001", "solo.live"))
    assert reader.count_frames(c) == counts
    # the live session, now closed, is published on the next run
    assert "P001/live -> solo.live: published (1 rows)" in _cli(
        "logs", "--root", str(store.root), "publish", "--all").stdout


SPARK_CHILD = """
import json, sys
scope = {}
exec(sys.stdin.read(), scope)
frames, counts = scope["frames"], scope["counts"]
print(json.dumps({"subject_type": dict(frames.dtypes)["subject"], "rows": frames.count(),
                  "counts": [[r["subject"], r["session"], r["count"]] for r in counts.collect()]}))
scope["spark"].stop()
"""


@pytest.mark.subprocess
def test_spark_recipe_on_a_local_central_store(recorded, tmp_path):
    """Spark over the Delta tables' current files: counts equal fer_core's, a killed publish's
    frames (no sessions row) are not counted, subject 007 stays a string. Runs in a child
    process: a JVM keeps the working directory it started in, and the local store's Spark
    recipe (tests/test_log_format_recipes.py) reads a relative path in its own JVM."""
    from deltalake import write_deltalake

    from fer_core.central.publish import publish_all
    from fer_core.central.tables import frames_table

    store = _copy(recorded, tmp_path)
    c = resolve_central(str(tmp_path / "central"), "siteA")
    assert {r.action for r in publish_all(store, c)} == {"published"}
    orphan = frames_table(store.read_table("P001", "clip"), "P001", "siteA.killed", "siteA")
    write_deltalake(c.frames_uri, orphan, mode="append", partition_by=["subject"])
    code = _recipe("pyspark").replace("/srv/fer/central", str(tmp_path / "central"))
    done = subprocess.run([sys.executable, "-c", SPARK_CHILD], input=code, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["subject_type"] == "string"
    counts = {(s, x): n for s, x, n in got["counts"]}
    assert counts == _local_counts(store) == reader.count_frames(c)
    assert got["rows"] == 75  # the orphan rows are there, and not counted


def test_a_version_1_frames_table_takes_version_2_sessions(tmp_path, monkeypatch):
    """A central frames table created by row schema version 1 (no brightness or contrast
    columns) accepts a version-2 session (the publish merges the schema); its old rows read
    back with those columns null, the new ones with their values."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    from fer_core.central.publish import publish_all
    from fer_core.central.tables import FRAMES_SCHEMA
    from fer_core.logstore.schema import ADDED_IN
    from fer_core.logstore.synthetic import synthetic_rows
    from tests.store_fixtures import T0, as_version_1

    monkeypatch.delenv("FER_CONFIG", raising=False)
    monkeypatch.setenv("FER_CENTRAL_STORE", str(tmp_path / "central"))
    monkeypatch.setenv("FER_SITE", "solo")
    store = synthetic_store(tmp_path / "logs", [("P001", "old", 12)])
    as_version_1(store.root / "subject=P001" / "session=old")
    c = resolve_central()
    added = ADDED_IN[2]
    with monkeypatch.context() as m:  # publish as version 1 did: its frames schema
        import fer_core.central.tables as tables

        old_schema = pa_schema_without(FRAMES_SCHEMA, added)
        m.setattr(tables, "FRAMES_SCHEMA", old_schema)
        assert [r.action for r in publish_all(store, c)] == ["published"]
    assert not set(added) & set(DeltaTable(c.frames_uri).schema().to_arrow().names)
    rows = [dict(r, face_brightness=90.0, face_contrast=30.0) if r["face_detected"] else r
            for r in synthetic_rows(8, T0)]
    with store.open_session("P001", "new", started_at=T0, source="synthetic",
                            synthetic=True) as w:
        w.append_many(rows)
    assert {r.session: r.action for r in publish_all(store, c)}["new"] == "published"
    frames = reader.read_frames(c)
    assert frames.schema == FRAMES_SCHEMA
    old = frames.filter(pc.equal(frames.column("session"), "solo.old"))
    new = frames.filter(pc.equal(frames.column("session"), "solo.new"))
    assert old.num_rows == 12 and old.column("face_brightness").null_count == 12
    faces = new.filter(new.column("face_detected"))
    assert set(faces.column("face_brightness").to_pylist()) == {90.0}


def pa_schema_without(schema, names):
    """``schema`` less the fields called ``names``."""
    import pyarrow as pa

    return pa.schema([f for f in schema if f.name not in names])
