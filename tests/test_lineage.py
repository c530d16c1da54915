"""Which teachers or starting weights may have seen a hold-out (fer_core.training.lineage)."""

from __future__ import annotations

from typing import Any

from fer_core.training.lineage import SEEN_BY, covers, holdout_seen_by, recorded_or_checked

HOLD = {"fraction": 0.05, "seed": 4}


def test_a_hold_out_covers_one_of_its_seed_and_no_larger_fraction() -> None:
    assert covers({"fraction": 0.10, "seed": 4}, HOLD)  # the first 5% of the same permutation
    assert covers({"fraction": 0.05, "seed": 4}, HOLD)
    assert not covers({"fraction": 0.04, "seed": 4}, HOLD)  # misses the last faces
    assert not covers({"fraction": 0.50, "seed": 5}, HOLD)  # another permutation
    assert not covers(None, HOLD) and not covers({}, HOLD)  # trained on all of Training


def _meta(holdout: dict | None, teachers: tuple[str, ...] = (), init: str = "",
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"holdout": holdout, "train_config": {"teachers": list(teachers), "init_from": init},
            **extra}  # fmt: skip


def test_teachers_without_a_covering_hold_out_are_named() -> None:
    files = {
        "all.pt": _meta(None),  # trained on all of Training (fast v1.0, paper v1.0)
        "other-seed.pt": _meta({"fraction": 0.1, "seed": 1}),
        "clean.pt": _meta({"fraction": 0.1, "seed": 4}, **{SEEN_BY: []}),
        "clean-old.pt": _meta({"fraction": 0.05, "seed": 4}),  # no record, no ancestors
        "tainted.pt": _meta({"fraction": 0.05, "seed": 4}, **{SEEN_BY: ["all.pt"]}),
        "old-with-teachers.pt": _meta({"fraction": 0.05, "seed": 4}, teachers=("all.pt",)),
    }
    got = holdout_seen_by([*files, "missing.pt"], HOLD, files.get)
    assert got == ["all.pt", "other-seed.pt", "tainted.pt", "old-with-teachers.pt", "missing.pt"]
    assert holdout_seen_by(["clean.pt", "clean-old.pt"], HOLD, files.get) == []


def test_a_models_own_record_is_read_before_its_files_are_checked() -> None:
    # the record written at training time wins (its teachers may be gone since)
    assert recorded_or_checked(_meta(HOLD, teachers=("gone.pt",), **{SEEN_BY: []})) == []
    assert recorded_or_checked(_meta(HOLD, **{SEEN_BY: ["t.pt"]})) == ["t.pt"]
    # an older file without the record: its teacher files are checked now (here: missing)
    assert recorded_or_checked(_meta(HOLD, teachers=("/nonexistent/t.pt",))) == [
        "/nonexistent/t.pt"
    ]
    assert recorded_or_checked(_meta(HOLD)) == []  # no teachers, no starting weights
    assert recorded_or_checked(_meta(None)) == []  # no hold-out to protect
