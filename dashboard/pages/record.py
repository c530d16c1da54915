"""Record: consent and subject, then the live camera (or an uploaded file) -> pipeline -> logs.

All streamlit-webrtc code lives in :mod:`dashboard.webrtc_glue`; this page is the form, the live
read-out (probability bars, rolling chart, processed-frame rate) and the upload analysis. Nothing
but predictions is stored unless the user ticks the explicit video opt-in.
"""

import time
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import auth_ui, loaders, ui  # auth_ui: access control (auth engineer)
from dashboard import webrtc_glue as glue
from fer_core.analyze import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, MediaError, analyze_uploads
from fer_core.auth import Perm  # access control (auth engineer)
from fer_core.labels import FER2013_CLASSES
from fer_core.logstore import InvalidIdError, validate_id
from fer_core.model_zoo import resolve_model_path
from fer_core.modelfile import LoadedModel, ModelFileError, load_model
from fer_core.pipeline import FramePipeline

CONSENT_TEXT = (
    "The person in front of the camera has been informed about this recording and has given "
    "consent: their facial expressions are analysed by an automatic classifier and the "
    "predictions (not images) are stored on this computer for research or clinical review."
)
NEW_SUBJECT = "New subject…"
RECORDER_KEY = "record.recorder"
GOTO_KEY = "record.goto_summary"
REFRESH_S = 0.5


@st.cache_resource(show_spinner="Loading the expression model...")
def _model(path: str, mtime: float) -> LoadedModel:
    """Loaded once per model file version and shared by all browser sessions (eval mode only)."""
    return load_model(path)


def _goto_summary(subject: str, session: str) -> None:
    # a callback runs before the sidebar widgets exist, so their keys may still be set here
    st.session_state[ui.SUBJECT_KEY] = subject
    st.session_state[ui.SESSION_KEY] = session
    st.session_state[ui.PENDING_SUBJECT_KEY] = subject
    st.session_state[GOTO_KEY] = True


def _consent_changed() -> None:
    st.session_state["record.consent_at"] = (
        datetime.now(UTC).isoformat(timespec="seconds")
        if st.session_state.get("record.consent") else None
    )


if st.session_state.pop(GOTO_KEY, False):
    st.switch_page("pages/session.py")

auth_ui.require(Perm.RECORD)  # access control (auth engineer): server-side role check
st.title("Record a session")
try:
    model_path = resolve_model_path(None)
    model = _model(str(model_path.resolve()), model_path.stat().st_mtime)
except (FileNotFoundError, ModelFileError) as exc:
    st.error(f"No expression model available: {exc}. Ship one as `models/fast.pt` or set "
             "`FER_MODEL` to a model file.")
    st.stop()

recorder: glue.LiveRecorder | None = st.session_state.get(RECORDER_KEY)
if recorder is None or (recorder.model is not model and not recorder.recording):
    recorder = glue.LiveRecorder(model, loaders.store())
    st.session_state[RECORDER_KEY] = recorder
recording = recorder.recording
st.caption(f"Model `{model.name}` {model.version} · log store `{loaders.root()}`. "
           "Only predictions are stored, never images, unless you opt in below.")

# ---------------------------------------------------------------- who, what, consent
subjects = loaders.subjects()
known = sorted(subjects["subject"].tolist()) if not subjects.empty else []
left, right = st.columns(2)
choice = left.selectbox("Subject", [NEW_SUBJECT, *known], key="record.subject_choice",
                        disabled=recording)
subject, subject_error = choice, None
if choice == NEW_SUBJECT:
    subject = left.text_input("New subject id", key="record.new_subject", disabled=recording,
                              placeholder="e.g. P017", max_chars=64).strip()
    try:
        validate_id(subject, "subject")
    except InvalidIdError as exc:
        subject_error = str(exc) if subject else "Enter a subject id."
        if subject:
            left.error(subject_error)
label = right.text_input("Session label", key="record.label", disabled=recording,
                         placeholder="e.g. baseline, task 2")
notes = right.text_area("Notes", key="record.notes", disabled=recording, height=80)
save_video = st.checkbox(
    "Also save the camera video (images of the person) — off by default", key="record.video",
    disabled=recording, help=f"Saved as .avi files under `{glue.media_dir()}`, outside the log "
    "store. Leave off to store predictions only.")
consent = st.checkbox(f"**Consent.** {CONSENT_TEXT}", key="record.consent", disabled=recording,
                      on_change=_consent_changed)

settings = None
# --- access control (auth engineer): may this account record this subject? -----------
if consent and subject_error is None:
    subject_error = auth_ui.claim_subject(subject, loaders.root())
    if subject_error:
        left.error(subject_error)
# ---------------------------------------------------------------------------------------
if consent and subject_error is None:
    settings = glue.RecordSettings(
        subject=subject, label=label.strip(), notes=notes, save_video=save_video,
        operator=auth_ui.current().username,  # auth: who recorded
        consent={"given": True, "text": CONSENT_TEXT,
                 "subject": subject, **auth_ui.consent_by(),  # auth: who consented / obtained
                 "at": st.session_state.get("record.consent_at")
                 or datetime.now(UTC).isoformat(timespec="seconds")},
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
            rows = [dict(zip(FER2013_CLASSES, u.probs, strict=True),
                         seconds=(u.timestamp - t_end).total_seconds())
                    for u in history if u.probs is not None]
            if rows:  # full width below the video: room for the seven-class legend
                chart_box.line_chart(pd.DataFrame(rows).set_index("seconds"), height=220,
                                     x_label="seconds (0 = now)", y_label="probability")
        if recorder.error:
            st.warning(recorder.error)


def finished_panel() -> None:
    fin = recorder.finished
    if fin is None:
        return
    if fin.error:
        st.warning(fin.error)
    st.success(f"Session `{fin.session}` of subject `{fin.subject}` saved: {fin.frames} frames "
               f"processed, {fin.rows} rows logged."
               + (f" Video: `{fin.video_path}`." if fin.video_path else ""))
    st.button("Open the session summary", key="record.open_summary", icon=":material/movie:",
              on_click=_goto_summary, args=(fin.subject, fin.session))


camera_tab, upload_tab = st.tabs(["Camera", "Analyse a file"])
with camera_tab:
    if settings is None and not recording:
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
                recorder.arm(settings)
        else:
            recorder.arm(None)
            recorder.finish()  # STOP (on_video_ended also closes it, whichever comes first)
        if not ctx.state.playing:
            with live_col:
                finished_panel()
        else:
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
    if st.button("Analyse", key="record.analyse", disabled=not files or settings is None
                 or recording, help="Needs a subject, consent and a file."):
        progress = st.progress(0.0, text="Analysing...")
        try:
            result = analyze_uploads(
                [(f.name, f.getvalue()) for f in files], FramePipeline(model), loaders.store(),
                settings.subject, label=settings.label, notes=settings.notes,
                operator=settings.operator, consent=settings.consent,
                on_progress=lambda done, total: progress.progress(
                    min(done / total, 1.0) if total else 0.0,
                    text=f"Analysing... {done} of {total or '?'} frames"),
            )
        except (MediaError, ValueError) as exc:
            st.error(f"Could not analyse the upload: {exc}")
            st.stop()
        progress.empty()
        recorder.finished = glue.FinishedSession(result.subject, result.session, result.frames,
                                                 result.rows)
        if result.skipped:
            st.warning(f"Skipped {len(result.skipped)} unreadable file(s): "
                       + ", ".join(result.skipped))
        finished_panel()
