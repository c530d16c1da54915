"""The reading recipes of docs/log-format.md, run as written against a real store.

The store is built by the real writer, and the default store's readme is copied into its root
exactly as it ships in ``logs/``, so a readme that dataset readers choke on (pyarrow failed with
"Could not read schema from 'logs/README.md'") fails here.
"""

from __future__ import annotations

import re
import shutil

import pytest

from fer_core import analytics as an
from fer_core.config import PROJECT_ROOT
from tests.dashboard_fixtures import (
    read_session,
    session_a_rows,
    session_b_rows,
    write_session,
)

DOC = PROJECT_ROOT / "docs" / "log-format.md"
DEFAULT_STORE = PROJECT_ROOT / "logs"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store") / "logs"
    write_session(root, "P001", "s-a", session_a_rows())
    write_session(root, "P001", "s-b", session_b_rows())
    write_session(root, "007", "0001", session_b_rows())
    for shipped in DEFAULT_STORE.iterdir():  # whatever the default store ships with
        if shipped.is_file():
            shutil.copy(shipped, root / shipped.name)
    return root


def test_default_store_ships_only_names_readers_skip():
    shipped = [p.name for p in DEFAULT_STORE.iterdir() if not p.name.startswith("subject=")]
    assert shipped, "logs/ should hold its readme"
    assert all(name.startswith(("_", ".")) for name in shipped), shipped


def test_pyarrow_recipe(store, monkeypatch):
    (code,) = [b for b in _blocks("python") if "pyarrow" in b]
    monkeypatch.chdir(store.parent)  # the recipe reads "logs"
    scope: dict = {}
    exec(code, scope)
    table = scope["table"].to_pandas()
    assert len(table) == 11 + 4  # P001's rows of both sessions (s-a has a secondary face)
    assert set(table["subject"]) == {"P001"}


def test_duckdb_recipes(store, monkeypatch):
    import duckdb

    blocks = _blocks("sql")
    assert len(blocks) == 2
    monkeypatch.chdir(store.parent)
    with duckdb.connect() as con:
        counts = con.execute(blocks[0]).df()
        shares = con.execute(blocks[1]).df()
    got = {(r.session, r.label): r[3] for r in counts.itertuples()}
    assert got[("s-a", "happy")] == 4
    assert got[("s-a", "angry")] == 2  # the query counts face rows: the secondary face too
    # the time-weighted recipe gives the dashboard's own shares
    for session in ("s-a", "s-b"):
        expected = an.class_shares(read_session(store, "P001", session))
        part = shares.loc[shares["session"] == session].set_index("label")["share"]
        assert part.to_dict() == pytest.approx(expected[expected > 0].to_dict())


def test_polars_recipe(store, monkeypatch):
    import polars as pl  # a test dependency (the app does not need it): the recipe must run
    (code,) = [b for b in _blocks("python") if "polars" in b]
    monkeypatch.chdir(store.parent)
    frame = eval(code.split("\n", 1)[1].strip(), {"pl": pl})
    assert frame.collect().height == 11 + 4 + 4


def test_numeric_looking_ids_stay_strings(store, monkeypatch):
    (code,) = [b for b in _blocks("python") if "pyarrow" in b]
    monkeypatch.chdir(store.parent)
    scope: dict = {}
    exec(code.replace('"P001"', '"007"'), scope)
    table = scope["table"].to_pandas()
    assert len(table) == 4 and set(table["subject"].astype(str)) == {"007"}
    assert set(table["session"].astype(str)) == {"0001"}  # not the integer 1
