"""Record: consent and subject, then the live camera (or an uploaded file) -> pipeline -> logs.

All streamlit-webrtc code lives in :mod:`dashboard.webrtc_glue`; this page is the form, the live
read-out (probability bars, rolling chart, processed-frame rate) and the upload analysis. Nothing
but predictions is stored unless the user ticks the explicit video opt-in.
"""

import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, loaders, ui  # auth_ui: access control (auth engineer)
from dashboard import webrtc_glue as glue
from dashboard.plaintext import plain, say
from fer_core.analyze import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, MediaError, analyze_uploads
from fer_core.auth import Perm  # access control (auth engineer)
from fer_core.classifier import Classifier, load_classifier, onnx_path_for
from fer_core.errors import ModelFileError
from fer_core.labels import FER2013_CLASSES
from fer_core.logstore import InvalidIdError, validate_id
from fer_core.models.shipped import resolve_model_path
from fer_core.pipeline import FramePipeline
from fer_core.recording import SessionResult
from fer_core.session_info import SessionInfo

CONSENT_TEXT = (
    "The person in front of the camera has been informed about this recording and has given "
    "consent: their facial expressions are analysed by an automatic classifier and the "
    "predictions (not images) are stored on this computer for research or clinical review."
)
#: Version of CONSENT_TEXT stored in every consent record; change it whenever the text changes.
CONSENT_TEXT_VERSION = "1 (2026-11-27)"
NEW_SUBJECT = "New subject…"
RECORDER_KEY = "record.recorder"
GOTO_KEY = "record.goto_summary"
CONSENT_KEY, CONSENT_AT_KEY = "record.consent", "record.consent_at"
#: set when a recording ended: the next run (before the checkbox exists) unticks consent
CONSENT_RESET_KEY = "record.consent_reset"
#: (subject, session) pairs whose start / end this browser session already audited
STARTS_KEY, STOPPED_KEY = "record.audited_starts", "record.audited_stop"
ANALYSED_KEY = "record.analysed"  # the last session made from an uploaded file
REFRESH_S = 0.5


@st.cache_resource(show_spinner="Loading the expression model...")
def _model(path: str, mtimes: tuple[float, ...]) -> Classifier:
    """Loaded once per version of the model file (and its ONNX graph), shared by all browser
    sessions: ONNX Runtime when the graph is there, PyTorch otherwise (fer_core.classifier)."""
    return load_classifier(path)


def _mtimes(path: Path) -> tuple[float, ...]:
    """Modification times of the model file and its ONNX graph (the cache key's version)."""
    return tuple(p.stat().st_mtime for p in (path, onnx_path_for(path)) if p.is_file())


def _goto_summary(subject: str, session: str) -> None:
    # a callback runs before the sidebar widgets exist, so their keys may still be set here
    st.session_state[ui.SUBJECT_KEY] = subject
    st.session_state[ui.SESSION_KEY] = session
    st.session_state[ui.PENDING_SUBJECT_KEY] = subject
    st.session_state[GOTO_KEY] = True


def _consent_changed() -> None:
    st.session_state[CONSENT_AT_KEY] = (
        datetime.now(UTC).isoformat(timespec="seconds")
        if st.session_state.get(CONSENT_KEY) else None
    )


def _reset_consent() -> None:
    """Consent is per recording: untick it (a new subject or a new recording asks again)."""
    st.session_state[CONSENT_KEY] = False
    st.session_state[CONSENT_AT_KEY] = None


def _audit_start(subject: str, session: str) -> None:
    """``record_start`` once per recorded session (the page sees it when its first row lands)."""
    started = st.session_state.setdefault(STARTS_KEY, set())
    if (subject, session) not in started:
        started.add((subject, session))
        auth_ui.audit("record_start", f"subject={subject} session={session}",
                      consent_at=st.session_state.get(CONSENT_AT_KEY) or "")


def _ended(fin: SessionResult | None, action: str = "record_stop") -> bool:
    """Audit a recording that just ended and untick consent; True when ``fin`` is new."""
    if fin is None or st.session_state.get(STOPPED_KEY) == (fin.subject, fin.session):
        return False
    st.session_state[STOPPED_KEY] = (fin.subject, fin.session)
    if action == "record_stop":
        _audit_start(fin.subject, fin.session)  # a recording too short to be seen live
    auth_ui.audit(action, f"subject={fin.subject} session={fin.session}", frames=fin.frames,
                  rows=fin.rows)
    st.session_state[CONSENT_RESET_KEY] = True
    return True


if st.session_state.pop(GOTO_KEY, False):
    st.switch_page("pages/session.py")
if st.session_state.pop(CONSENT_RESET_KEY, False):
    _reset_consent()  # before the checkbox exists in this run, so its state may be set

auth_ui.require(Perm.RECORD)  # access control (auth engineer): server-side role check
st.title("Record a session")
try:
    model_path = resolve_model_path(None)
    model = _model(str(model_path.resolve()), _mtimes(model_path))
except (FileNotFoundError, ModelFileError) as exc:
    st.error(f"No expression model available: {plain(exc)}. Ship one as `models/fast.pt` or set "
             "`FER_MODEL` to a model file.")
    st.stop()

recorder: glue.WebRtcRecorder | None = st.session_state.get(RECORDER_KEY)
if recorder is None or (recorder.model is not model and not recorder.recording):
    recorder = glue.WebRtcRecorder(model, loaders.store())
    st.session_state[RECORDER_KEY] = recorder
recording = recorder.recording
st.caption(f"Model `{model.name}` {model.version} · log store `{loaders.root()}`. "
           "Only predictions are stored, never images, unless you opt in below.")

# ---------------------------------------------------------------- who, what, consent
subjects = loaders.subjects()
known = sorted(subjects["subject"].tolist()) if not subjects.empty else []
left, right = st.columns(2)
choice = left.selectbox("Subject", [NEW_SUBJECT, *known], key="record.subject_choice",
                        disabled=recording, on_change=_reset_consent)
subject, subject_error = choice, None
if choice == NEW_SUBJECT:
    subject = left.text_input("New subject id", key="record.new_subject", disabled=recording,
                              placeholder="e.g. P017", max_chars=64,
                              on_change=_reset_consent).strip()
    try:
        validate_id(subject, "subject")
    except InvalidIdError as exc:
        subject_error = str(exc) if subject else "Enter a subject id."
        if subject:  # the message quotes the typed id: plain text
            say(left, "error", subject_error)
label = right.text_input("Session label", key="record.label", disabled=recording,
                         placeholder="e.g. baseline, task 2")
notes = right.text_area("Notes", key="record.notes", disabled=recording, height=80)
save_video = st.checkbox(
    "Also save the camera video (images of the person) — off by default", key="record.video",
    disabled=recording, help=f"Saved as .avi files under `{glue.media_dir()}`, outside the log "
    "store. Leave off to store predictions only.")
consent = st.checkbox(f"**Consent.** {CONSENT_TEXT}", key=CONSENT_KEY, disabled=recording,
                      on_change=_consent_changed,
                      help="Asked again for every recording and whenever the subject changes.")
consent_at = st.session_state.get(CONSENT_AT_KEY)

info: SessionInfo | None = None  # the session's context, for the camera and the upload alike
# --- access control (auth engineer): may this account record this subject? -----------
if consent and consent_at and subject_error is None:
    subject_error = auth_ui.claim_subject(subject, loaders.root())
    if subject_error:
        say(left, "error", subject_error)
# ---------------------------------------------------------------------------------------
if consent and consent_at and subject_error is None:
    info = SessionInfo(
        subject=subject, label=label.strip(), notes=notes,
        operator=auth_ui.current().username,  # auth: who recorded
        # the tick that starts this recording: who, for whom, which words, when
        consent={"given": True, "text": CONSENT_TEXT, "text_version": CONSENT_TEXT_VERSION,
                 "subject": subject, **auth_ui.consent_by(), "at": consent_at},
    )

def live_panel(box, chart_box) -> None:
    """Probability bars of the current face, the processed rate and a rolling 30 s chart."""
    recorder.drain()
    history = list(recorder.history)
    with box.container():
        sid = recorder.session_id
        last = history[-1] if history else None
        face = next((u for u in reversed(history) if u.probs is not None), None)
        st.markdown(f":red-badge[:material/fiber_manual_record: REC] session `{sid[1]}`"
                    if sid else "Waiting for the first frame...")
        if sid:
            _audit_start(*sid)
        c1, c2 = st.columns(2)
        c1.metric("Frames processed", f"{(last.frame_index + 1) if last else 0}")
        c2.metric("Processed rate", f"{recorder.processed_fps():.1f} fps",
                  help="Frames actually analysed and logged per second (slower processing "
                  "drops camera frames; each logged frame keeps its own timestamp).")
        st.markdown("Now: " + (f"**{last.label}** ({100 * last.confidence:.0f}%)"
                               if last and last.label else "no face in view"))
        if face is not None:
            bars = pd.DataFrame({"probability": face.probs}, index=list(FER2013_CLASSES))
            st.bar_chart(bars, horizontal=True, height=220, y_label="", x_label="probability")
        if len(history) >= 2:
            t_end = history[-1].timestamp
            nan = [float("nan")] * len(FER2013_CLASSES)  # no face: a gap, not a bridge
            rows = [dict(zip(FER2013_CLASSES, u.probs if u.probs is not None else nan,
                             strict=True), seconds=(u.timestamp - t_end).total_seconds())
                    for u in history]
            if any(u.probs is not None for u in history):  # full width: room for the legend
                n = st.session_state["record.live_n"] = st.session_state.get("record.live_n",
                                                                             0) + 1
                chart_box.plotly_chart(charts.live_probabilities(pd.DataFrame(rows)),
                                       config=ui.PLOTLY_CONFIG, key=f"record.live.{n}")
        if recorder.error:
            say(st, "warning", recorder.error)


def finished_panel(where: str = "camera") -> None:
    """The last finished session, on the tab that made it (camera or upload)."""
    fin = recorder.finished
    if fin is None:
        return
    from_upload = st.session_state.get(ANALYSED_KEY) == (fin.subject, fin.session)
    if from_upload != (where == "upload"):
        return
    if fin.error:
        say(st, "warning", fin.error)  # names uploaded files: plain text
    st.success(f"Session `{fin.session}` of subject `{fin.subject}` saved: {fin.frames} frames "
               f"processed, {fin.rows} rows logged."
               + (f" Video: {plain(fin.video_path)}." if fin.video_path else ""))
    st.button("Open the session summary", key=f"record.open_summary.{where}",
              icon=":material/movie:", on_click=_goto_summary, args=(fin.subject, fin.session))


camera_tab, upload_tab = st.tabs(["Camera", "Analyse a file"])
with camera_tab:
    if info is None and not recording:
        recorder.arm(None)
        st.info("To enable the camera, choose a subject and tick the consent box.",
                icon=":material/videocam_off:")
        finished_panel()
    else:
        video_col, live_col = st.columns([3, 2])
        with video_col:
            ctx = glue.camera(recorder)
        if ctx.state.signalling or ctx.state.playing:
            # armed only between START and STOP, so a frame still in flight after STOP cannot
            # open a new session; frames before the first armed one pass through unlogged
            if not recording:
                recorder.arm(info, save_video=save_video)
        else:
            recorder.arm(None)
            recorder.finish()  # STOP (on_video_ended also closes it, whichever comes first)
            if _ended(recorder.finished):
                st.rerun()  # untick consent: the next recording needs a new tick
        if not ctx.state.playing:
            with live_col:
                finished_panel()
        else:
            from dashboard.segments_ui import recording_controls  # segment buttons, audited

            recording_controls(recorder, live_col, subject)
            box, chart_box = live_col.empty(), st.empty()
            while ctx.state.playing:  # a STOP click reruns the script and ends this loop
                live_panel(box, chart_box)
                time.sleep(REFRESH_S)

with upload_tab:
    st.write("Analyse a video file, an image or several images with the same pipeline; the "
             "predictions are logged as a new session of the subject above. The upload itself "
             "is deleted after analysis.")
    files = st.file_uploader(
        "Video or images", key="record.upload", accept_multiple_files=True,
        type=sorted(e.lstrip(".") for e in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS))
    if st.button("Analyse", key="record.analyse", disabled=not files or info is None
                 or recording, help="Needs a subject, consent and a file."):
        progress = st.progress(0.0, text="Analysing...")
        try:
            result = analyze_uploads(
                [(f.name, f.getvalue()) for f in files], FramePipeline(model, info.settings),
                loaders.store(), info,
                on_progress=lambda done, total: progress.progress(
                    min(done / total, 1.0) if total else 0.0,
                    text=f"Analysing... {done} of {total or '?'} frames"),
            )
        except (MediaError, ValueError) as exc:
            st.error(f"Could not analyse the upload: {plain(exc)}")
            st.stop()
        progress.empty()
        skipped = (f"Skipped {len(result.skipped)} file(s) that could not be analysed: "
                   + "; ".join(str(s) for s in result.skipped)) if result.skipped else None
        result.error = skipped
        recorder.finished = result
        _ended(recorder.finished, action="analyse")
        st.session_state[ANALYSED_KEY] = (result.subject, result.session)
        st.rerun()  # untick consent (the next analysis asks again); the result shows below
    finished_panel("upload")

