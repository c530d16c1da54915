"""Cached loaders: the only place the dashboard reads the log store.

Every cached function takes the store root and ``LogStore.state_token()``; the token changes
whenever a file of the store changes, so a new recording, marker or import invalidates exactly
the entries built from older files, and nothing stale is ever shown. Cached values are already
aggregated (bucket counts, per-session tables), so a cache hit costs milliseconds even for a
subject with a million rows. Filtering by the page's widgets happens outside these functions,
so moving a slider never re-reads Parquet.

Access control: the cached values are store-wide, but every public function here returns only
the subjects the logged-in user may see, and the per-subject functions refuse (stop the page)
for any other subject, whatever the page asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import auth_ui
from fer_core import analytics as an
from fer_core.auth import Perm
from fer_core.central.location import resolve_central
from fer_core.logstore import LogStore, SessionMeta
from fer_core.logstore.root import resolve_root

if TYPE_CHECKING:  # the model and pipeline modules load only on the Record page (start-up time)
    from fer_core.classifier import Classifier
    from fer_core.pipeline import FramePipeline, PipelineSettings
    from fer_core.recording import SessionResult
    from fer_core.session_info import SessionInfo


@dataclass(frozen=True)
class History:
    """A subject's history, aggregated: bucket counts, session bounds and the session table."""

    counts: pd.DataFrame
    bounds: pd.DataFrame
    sessions: pd.DataFrame


@st.cache_data(ttl=30, show_spinner="Fetching sessions from the central store...")
def _synced(root_: str) -> str:
    """Sync the cache at ``root_`` with the central store, at most every 30 s per server."""
    from fer_core.central.cache import sync

    central = resolve_central()  # a review machine needs no site of its own
    if central is None:
        return "no central store"
    return sync(central, LogStore(root_)).summary()


def sync_central() -> None:
    """In review mode (``$FER_CENTRAL_REVIEW=1``): refresh the local cache of the central
    store (fer_core.central.cache). A central store that cannot be reached leaves the cache
    as it was, with a warning on the page."""
    from fer_core.central.cache import review_mode

    if not review_mode():
        return
    try:
        _synced(root())
    except Exception as exc:  # already redacted (CentralError), or a local error
        st.warning(f"The central store could not be read; showing the last copy. ({exc})")


def root() -> str:
    """The store root the rest of fer_core uses ($FER_LOG_ROOT, fer.toml, or ./logs)."""
    return str(resolve_root().resolve())


def store() -> LogStore:
    return LogStore(root())


def token() -> str:
    """The store's state token; in central review mode, after syncing the local cache."""
    sync_central()
    try:
        return store().state_token()
    except FileNotFoundError:
        return "missing"


@st.cache_data(show_spinner=False, max_entries=8)
def _subjects(root_: str, token_: str) -> pd.DataFrame:
    return LogStore(root_).list_subjects()


@st.cache_data(show_spinner=False, max_entries=8)
def _sessions(root_: str, token_: str) -> pd.DataFrame:
    return LogStore(root_).list_sessions()


@st.cache_data(show_spinner=False, max_entries=8)
def _overview(root_: str, token_: str) -> pd.DataFrame:
    s = LogStore(root_)
    return an.overview_table(s.list_subjects(), s.list_sessions(), an.summary_label_counts(root_))


@st.cache_data(show_spinner=False, max_entries=8)
def _negative_shares(root_: str, token_: str) -> pd.DataFrame:
    return an.negative_share_by_session(an.summary_label_counts(root_))


@st.cache_data(show_spinner="Aggregating the subject's history...", max_entries=16)
def _history(root_: str, token_: str, subject: str) -> History:
    digests = an.read_digests(root_, subject)  # per-session summaries, not raw rows
    counts, bounds = an.subject_history(root_, subject, digests)
    table = an.session_table(counts, bounds)
    if not table.empty:  # the recording-quality verdict of each session (fer_core.measures)
        verdicts = an.session_verdicts(root_, subject, digests).set_index("session")["quality"]
        table = table.assign(quality=table["session"].map(verdicts).fillna("—"))
    return History(counts, bounds, table)


@st.cache_data(show_spinner="Loading the session...", max_entries=4)
def _session_rows(root_: str, token_: str, subject: str, session: str) -> pd.DataFrame:
    return LogStore(root_).read(subject=subject, session=session)


@st.cache_data(show_spinner="Loading the session...", max_entries=4)
def _session_view(root_: str, data_token_: str, subject: str, session: str,
                  n_rows: int) -> an.SessionView:
    """Keyed on the session's :meth:`~LogStore.data_token`, not the store's token: saving a
    note or a marker (metadata only) does not re-read the frames."""
    return an.session_view(root_, subject, session, n_rows)


# What the Session summary computes from a session's frames, cached like the frames
# themselves: opening the page again, or saving a note, costs a cache hit instead of the
# smoothing, binning and counting (issue 19: "pages under a second").
@st.cache_data(show_spinner=False, max_entries=16)
def _session_timeline(root_: str, data_token_: str, subject: str, session: str, n_rows: int,
                      window_s: float, max_points: int) -> pd.DataFrame:
    rows = _session_view(root_, data_token_, subject, session, n_rows).rows
    return an.timeline(rows, window_s, max_points=max_points)


@st.cache_data(show_spinner=False, max_entries=16)
def _session_ethogram(root_: str, data_token_: str, subject: str, session: str, n_rows: int,
                      bin_s: float) -> pd.DataFrame:
    rows = _session_view(root_, data_token_, subject, session, n_rows).rows
    return an.ethogram_segments(rows, bin_s=bin_s)


@st.cache_data(show_spinner=False, max_entries=16)
def _session_transitions(root_: str, data_token_: str, subject: str, session: str,
                         n_rows: int, min_run_s: float) -> pd.DataFrame:
    rows = _session_view(root_, data_token_, subject, session, n_rows).rows
    return an.transition_counts(rows, min_run_s=min_run_s)


@st.cache_data(show_spinner=False, max_entries=16)
def _session_peaks(root_: str, data_token_: str, subject: str, session: str, n_rows: int,
                   window_s: float) -> pd.DataFrame:
    rows = _session_view(root_, data_token_, subject, session, n_rows).rows
    return an.class_peaks(rows, window_s)


@st.cache_data(show_spinner=False, max_entries=32)
def _session_meta(root_: str, token_: str, subject: str, session: str) -> SessionMeta:
    return LogStore(root_).session_meta(subject, session)


@st.cache_data(show_spinner=False, max_entries=16)
def _segment_metas(root_: str, token_: str, subject: str) -> list[SessionMeta]:
    from fer_core.analytics.segments import subject_segment_metas

    return subject_segment_metas(root_, subject)


@st.cache_data(show_spinner="Comparing the segment across sessions...", max_entries=16)
def _label_across(root_: str, token_: str, subject: str, label: str) -> pd.DataFrame:
    from fer_core.analytics.segments import label_across_sessions

    return label_across_sessions(root_, subject, label, _segment_metas(root_, token_, subject))


@st.cache_data(show_spinner=False, max_entries=8)
def _segment_figures(root_: str, data_token_: str, segments: tuple[tuple, ...], subject: str,
                     session: str, n_rows: int) -> pd.DataFrame:
    """Every segment of the session with its figures (points too), from the page's rows.

    Keyed on the frames' fingerprint and the segments themselves, not the store's token: adding
    a segment (a metadata change) then reuses the cached rows instead of reading them again."""
    from fer_core.logstore import Segment

    rows = _session_view(root_, data_token_, subject, session, n_rows).rows
    return an.segment_figures(rows, [Segment(*seg) for seg in segments], include_points=True)


def _visible(table: pd.DataFrame) -> pd.DataFrame:
    """Only the rows of subjects the logged-in user may see."""
    allowed = auth_ui.allowed_subjects()
    if allowed is None or "subject" not in table.columns:
        return table
    return table.loc[table["subject"].isin(allowed)].reset_index(drop=True)


def store_subjects() -> pd.DataFrame:
    """Every subject in the store, whoever is logged in (for emptiness checks only)."""
    try:
        return _subjects(root(), token())
    except FileNotFoundError:
        return pd.DataFrame(columns=["subject", "n_sessions", "synthetic"])


def subjects() -> pd.DataFrame:
    """``list_subjects()`` of the subjects the user may see (empty when none)."""
    return _visible(store_subjects())


def sessions(subject: str | None = None) -> pd.DataFrame:
    """``list_sessions()`` for one subject (newest first) or all the user may see."""
    if subject is not None:
        auth_ui.require(Perm.VIEW, subject)
    table = _visible(_sessions(root(), token()))
    if subject is not None:
        table = table.loc[table["subject"] == subject]
    return table.sort_values("started_at", ascending=False, ignore_index=True)


def with_central_status(table: pd.DataFrame, subject: str) -> pd.DataFrame:
    """``table`` (with a ``session`` column) plus ``central``: "published", "waiting" or
    "failed: reason" per session, when a central store is configured (else unchanged)."""
    from fer_core.central.background import configured, status_text

    if configured() is None:
        return table
    return table.assign(central=[status_text(Path(root()), subject, s)
                                 for s in table["session"]])


def sessions_recorded(subject: str) -> pd.DataFrame:
    """:func:`sessions` of one subject with ``duration_s`` replaced by the recorded time.

    Session pickers then show the same duration as the session's own page (the time its frames
    cover, fer_core.measures.weights), not the writer's open-to-close wall clock.
    """
    table = sessions(subject)
    recorded = history(subject).sessions
    if recorded.empty:
        return table
    durations = recorded.set_index("session")["duration_s"]
    return table.assign(duration_s=table["session"].map(durations).fillna(table["duration_s"]))


def overview() -> pd.DataFrame:
    return _visible(_overview(root(), token()))


def negative_shares() -> pd.DataFrame:
    return _visible(_negative_shares(root(), token()))


def history(subject: str) -> History:
    auth_ui.require(Perm.VIEW, subject)
    return _history(root(), token(), subject)


#: Row columns recording quality needs (fer_core.measures.quality): a long session's quality
#: reads these, not the probabilities.
QUALITY_COLUMNS = ["timestamp", "frame_index", "face_index", "face_detected", "confidence",
                   "box_w", "box_h", "face_brightness", "face_contrast"]


@st.cache_data(show_spinner="Checking the recording quality...", max_entries=8)
def _session_quality(root_: str, token_: str, subject: str, session: str) -> an.Quality:
    store = LogStore(root_)
    rows = store.read(subject=subject, session=session, columns=QUALITY_COLUMNS)
    try:
        meta = store.session_meta(subject, session)
    except LookupError:  # no metadata: judged from the rows alone
        meta = None
    return an.session_quality(rows, meta)


def session_quality(subject: str, session: str) -> an.Quality:
    """The session's recording quality (fer_core.measures.quality.session_quality)."""
    auth_ui.require(Perm.VIEW, subject)
    # keyed on the frames' fingerprint: a note or a segment saved does not recompute it (the
    # live counts it also reads are written before the session's last compaction)
    return _session_quality(root(), data_token(subject, session), subject, session)


@st.cache_resource(show_spinner="Loading the expression model...")
def _model(path: str, mtimes: tuple[float, ...]) -> Classifier:
    """Loaded once per version of the model file (and its ONNX graph), shared by all browser
    sessions: ONNX Runtime when the graph is there, PyTorch otherwise (fer_core.classifier)."""
    from fer_core.classifier import load_classifier

    return load_classifier(path)


def model() -> Classifier:
    """The app's expression model (``$FER_MODEL`` or the shipped default), loaded once per
    version of its file. Raises FileNotFoundError / ModelFileError when there is none."""
    from fer_core.classifier import onnx_path_for
    from fer_core.models.shipped import resolve_model_path

    path = resolve_model_path(None)
    mtimes = tuple(p.stat().st_mtime for p in (path, onnx_path_for(path)) if p.is_file())
    return _model(str(path.resolve()), mtimes)


@dataclass
class SharedPipeline:
    """One prepared pipeline of a model, and the lock that makes it one-stream-at-a-time
    (:class:`FramePipeline` keeps per-stream tracking state and is not thread-safe)."""

    pipeline: FramePipeline
    lock: threading.Lock


@st.cache_resource(show_spinner="Preparing the expression model...")
def _pipeline(_model_: Classifier, model_key: str, settings: PipelineSettings) -> SharedPipeline:
    from fer_core.pipeline import FramePipeline

    return SharedPipeline(FramePipeline(_model_, settings), threading.Lock())


def analyse_upload(files: list[tuple[str, bytes]], info: SessionInfo,
                   on_progress=None) -> SessionResult:
    """Analyse uploaded files into a new session of ``info`` with the one cached pipeline
    (building one prepares the network: it used to happen on every upload). Uploads from
    several browser sessions take turns on it."""
    from fer_core.analyze import analyze_uploads

    classifier = model()
    shared = _pipeline(classifier, f"{classifier.name}:{classifier.version}:{id(classifier)}",
                       info.settings)
    with shared.lock:
        return analyze_uploads(files, shared.pipeline, store(), info, on_progress=on_progress)


def session_rows(subject: str, session: str) -> pd.DataFrame:
    auth_ui.require(Perm.VIEW, subject)
    return _session_rows(root(), token(), subject, session)


def data_token(subject: str, session: str) -> str:
    """The session's frames' fingerprint (:meth:`LogStore.data_token`); in central review mode,
    after syncing the local cache."""
    sync_central()
    return store().data_token(subject, session)


def session_view(subject: str, session: str, n_rows: int) -> an.SessionView:
    """The session's chart rows (downsampled above ``an.LARGE_SESSION_ROWS``) and its exact
    summary; ``n_rows`` from the session listing."""
    auth_ui.require(Perm.VIEW, subject)
    return _session_view(root(), data_token(subject, session), subject, session, n_rows)


def session_timeline(subject: str, session: str, n_rows: int, window_s: float,
                     max_points: int = 1500) -> pd.DataFrame:
    """``analytics.timeline`` of the session's chart rows (UTC times), cached."""
    auth_ui.require(Perm.VIEW, subject)
    return _session_timeline(root(), data_token(subject, session), subject, session, n_rows,
                             float(window_s), max_points)


def session_ethogram(subject: str, session: str, n_rows: int, bin_s: float) -> pd.DataFrame:
    """``analytics.ethogram_segments`` of the session's chart rows (UTC times), cached."""
    auth_ui.require(Perm.VIEW, subject)
    return _session_ethogram(root(), data_token(subject, session), subject, session, n_rows,
                             float(bin_s))


def session_transitions(subject: str, session: str, n_rows: int,
                        min_run_s: float) -> pd.DataFrame:
    """``analytics.transition_counts`` of the session's chart rows, cached."""
    auth_ui.require(Perm.VIEW, subject)
    return _session_transitions(root(), data_token(subject, session), subject, session,
                                n_rows, float(min_run_s))


def session_peaks(subject: str, session: str, n_rows: int, window_s: float) -> pd.DataFrame:
    """``analytics.class_peaks`` of the session's chart rows, cached."""
    auth_ui.require(Perm.VIEW, subject)
    return _session_peaks(root(), data_token(subject, session), subject, session, n_rows,
                          float(window_s))


def session_meta(subject: str, session: str) -> SessionMeta:
    auth_ui.require(Perm.VIEW, subject)
    return _session_meta(root(), token(), subject, session)


def segment_metas(subject: str) -> list[SessionMeta]:
    """Metadata of the subject's sessions that have segments, oldest first."""
    auth_ui.require(Perm.VIEW, subject)
    return _segment_metas(root(), token(), subject)


def label_across(subject: str, label: str) -> pd.DataFrame:
    """One segment label's figures per session of the subject
    (:func:`fer_core.analytics.segments.label_across_sessions`)."""
    auth_ui.require(Perm.VIEW, subject)
    return _label_across(root(), token(), subject, label)


def segment_figures(subject: str, session: str, n_rows: int) -> pd.DataFrame:
    """:func:`fer_core.measures.segments.segment_figures` of the session (points included),
    cached until the store changes: moving a slider does not recompute them."""
    auth_ui.require(Perm.VIEW, subject)
    segments = tuple((seg.id, seg.label, seg.start, seg.end)
                     for seg in session_meta(subject, session).sorted_segments())
    return _segment_figures(root(), data_token(subject, session), segments, subject, session,
                            n_rows)
