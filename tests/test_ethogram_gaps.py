"""The ethogram's "no face" blocks at coarse smoothing (issue 19, item 5).

At 30-s smoothing the Session summary bins the ethogram in 15-s bins. "No face" used to compete
with each expression on its own, so a 5-s look-away in a bin whose face time was split over
three expressions won the bin and drew 15 s of "no face" under a timeline that showed a 5-s gap.
Now a bin is "no face" only when the face was absent for most of it, and the block is cut to
the real gap. Frames are built by hand (1 frame/s), so every figure below can be checked by eye.
"""

from __future__ import annotations

import pandas as pd
import pytest

from fer_core import analytics as an

T0 = pd.Timestamp("2026-12-01 09:00:00", tz="UTC")


def frames(labels: list[str | None]) -> pd.DataFrame:
    """One row per second; ``None`` is a frame without a face."""
    rows = []
    for i, label in enumerate(labels):
        face = label is not None
        probs = {f"prob_{c}": (1.0 if c == label else 0.0) if face else None for c in an.CLASSES}
        rows.append({"timestamp": T0 + pd.Timedelta(seconds=i), "frame_index": i,
                     "face_index": 0 if face else -1, "face_detected": face,
                     "label": label, "confidence": 1.0 if face else None, **probs})
    return pd.DataFrame(rows)


def summary(segments: pd.DataFrame) -> list[tuple[str, float, float]]:
    """(label, start s, duration s) per segment."""
    return [(r.label, (r.start - T0).total_seconds(), r.duration_s)
            for r in segments.itertuples()]


def test_a_minority_gap_does_not_become_a_bin_wide_no_face_block():
    # bin [0,15): happy 3 s, sad 3 s, angry 3 s, neutral 1 s, no face 5 s (t=10..14);
    # bin [15,30): happy 5 s (t=15..19), no face 10 s (t=20..29)
    labels = ["happy"] * 3 + ["sad"] * 3 + ["angry"] * 3 + ["neutral"] + [None] * 5 \
        + ["happy"] * 5 + [None] * 10
    seg = an.ethogram_segments(frames(labels), bin_s=15.0)
    # bin 1: absent 5 of 15 s, not most of it -> its dominant expression (3-way tie: angry
    # comes first in FER2013 order). The old rule drew [0, 15) as "no face" (5 s > 3 s).
    # bin 2: absent 10 of 15 s -> "no face", cut to the real gap [20, 30); the face part
    # keeps the bin's expression.
    assert summary(seg) == [("angry", 0.0, 15.0), ("happy", 15.0, 5.0), ("no face", 20.0, 10.0)]


def test_a_majority_gap_inside_a_bin_is_drawn_at_its_real_length():
    # bin [15,30): sad 2 s (t=15,16), no face 10 s (t=17..26), happy 3 s (t=27..29)
    labels = ["neutral"] * 15 + ["sad"] * 2 + [None] * 10 + ["happy"] * 3 + ["neutral"] * 15
    seg = an.ethogram_segments(frames(labels), bin_s=15.0)
    assert summary(seg) == [("neutral", 0.0, 15.0), ("happy", 15.0, 2.0),
                            ("no face", 17.0, 10.0), ("happy", 27.0, 3.0),
                            ("neutral", 30.0, 15.0)]
    no_face = seg.loc[seg["label"] == "no face", "duration_s"]
    assert no_face.sum() == pytest.approx(10.0)  # the gap, not the 15-s bin


def test_bins_never_start_before_the_first_frame():
    # the first frame at 09:00:07: bins are floored to 09:00:00, the ethogram starts at :07
    seg = an.ethogram_segments(frames(["happy"] * 20).iloc[7:], bin_s=15.0)
    assert summary(seg) == [("happy", 7.0, 13.0)]
