"""Pure analytics for the review dashboard (pandas / DuckDB; no torch, cv2 or streamlit).

Pages of the dashboard only lay out what these functions return, so every number a psychologist
sees is computed here and unit-tested against hand-computed values. See docs/dashboard.md for the
definitions (frame, time share, face-in-view, valence estimate, baseline flags). Every figure
is weighted by the time each row covers (:mod:`fer_core.measures.weights`), never by counting
rows.
"""

from fer_core.analytics.compare import compare_summaries
from fer_core.analytics.session_detail import LARGE_SESSION_ROWS, SessionView, session_view
from fer_core.analytics.store_queries import (
    filter_overview,
    negative_share_by_session,
    overview_table,
    session_label_counts,
)
from fer_core.analytics.store_summaries import (
    read_digests,
    session_verdicts,
    subject_history,
    summary_label_counts,
)
from fer_core.measures.baseline import (
    RULE_CHOSEN,
    RULE_EARLIER,
    baseline_flags,
    baseline_summary,
    chosen_sessions,
    pooled,
    reference_table,
    rule_text,
)
from fer_core.measures.frames import (
    CLASSES,
    NO_FACE,
    PROB_COLUMNS,
    VALENCE_LABEL,
    VALENCE_WEIGHTS,
    class_peaks,
    class_shares,
    dominant_sequence,
    ethogram_segments,
    face_rows,
    frame_rows,
    frame_seconds,
    session_summary,
    smooth_probabilities,
    timeline,
    transition_counts,
    valence,
)
from fer_core.measures.history import (
    bucket_counts,
    filter_counts,
    session_bounds,
    session_table,
    shares_by_day,
    summarise_period,
    time_of_day_heatmap,
    valence_by_day,
)
from fer_core.measures.quality import Quality, session_quality
from fer_core.measures.segments import same_label_across_sessions, segment_figures
from fer_core.measures.weights import DEFAULT_MAX_GAP_S, row_duration_sql, row_durations

__all__ = [
    "CLASSES",
    "DEFAULT_MAX_GAP_S",
    "LARGE_SESSION_ROWS",
    "NO_FACE",
    "PROB_COLUMNS",
    "RULE_CHOSEN",
    "RULE_EARLIER",
    "VALENCE_LABEL",
    "VALENCE_WEIGHTS",
    "Quality",
    "SessionView",
    "baseline_flags",
    "baseline_summary",
    "bucket_counts",
    "chosen_sessions",
    "class_peaks",
    "class_shares",
    "compare_summaries",
    "dominant_sequence",
    "ethogram_segments",
    "face_rows",
    "filter_counts",
    "filter_overview",
    "frame_rows",
    "frame_seconds",
    "negative_share_by_session",
    "overview_table",
    "pooled",
    "read_digests",
    "reference_table",
    "row_duration_sql",
    "row_durations",
    "rule_text",
    "same_label_across_sessions",
    "segment_figures",
    "session_bounds",
    "session_label_counts",
    "session_quality",
    "session_summary",
    "session_table",
    "session_verdicts",
    "session_view",
    "shares_by_day",
    "smooth_probabilities",
    "subject_history",
    "summarise_period",
    "summary_label_counts",
    "time_of_day_heatmap",
    "timeline",
    "transition_counts",
    "valence",
    "valence_by_day",
]
