"""The central tables' filtered reads (fer_core.central.query) on a real local Delta table."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from fer_core.central.query import count, select, sql_literal, where_equal


@pytest.fixture()
def table(tmp_path) -> DeltaTable:
    """Three appends (three files) of a subject-partitioned table, one value with a quote."""
    uri = str(tmp_path / "t")
    for subject, session, n in [("S1", "a.x1", 3), ("S1", "a.x2", 2), ("S2", "o'brien", 4)]:
        rows = pa.table({"subject": [subject] * n, "session": [session] * n,
                         "v": list(range(n))})
        write_deltalake(uri, rows, mode="append", partition_by=["subject"])
    return DeltaTable(uri)


def test_where_equal_quotes_values_and_makes_in_lists():
    assert sql_literal("o'brien") == "'o''brien'"
    assert where_equal(subject="S1", session=["a", "b"]) == (
        '"subject" = \'S1\' AND "session" IN (\'a\', \'b\')')
    assert where_equal() == "TRUE"


def test_select_and_count_match_hand_counts(table):
    assert count(table, where_equal(subject="S1")) == 5
    assert count(table, where_equal(subject="S1", session="a.x2")) == 2
    assert count(table, where_equal(session=["a.x1", "o'brien"])) == 7
    # a quote inside a value stays inside the literal: it matches that value, nothing else
    got = select(table, where_equal(session="o'brien"))
    assert got.num_rows == 4 and set(got.column("subject").to_pylist()) == {"S2"}
    assert count(table, where_equal(session="x' OR 'a'='a")) == 0


def test_select_returns_plain_strings_even_when_empty(table):
    got = select(table, where_equal(subject="nobody"))
    assert got.num_rows == 0
    assert got.schema.field("session").type == pa.string()
    assert select(table, "TRUE", '"v"').column_names == ["v"]
