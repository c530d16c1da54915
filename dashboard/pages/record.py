"""Record: consent and subject, then the live camera (or an uploaded file) -> pipeline -> logs.

A layout only: the consent and audit rules are :mod:`fer_core.consent_flow`, the live read-out's
tables :mod:`fer_core.live_view`, the model and the upload's pipeline are cached in
:mod:`dashboard.loaders`, and all streamlit-webrtc code lives in :mod:`dashboard.webrtc_glue`.
Nothing but predictions is stored unless the user ticks the explicit video opt-in.

One Stop control: the camera component's own STOP, which ends the stream and closes the
session. Streamlit's toolbar offers a second "Stop" whenever the script runs; it would only stop
the page's read-out, never the camera, so frames would go on being logged behind a frozen page.
The read-out therefore refreshes in fragments (``st.fragment(run_every=...)``) instead of a loop
that kept the script running, and while recording the page hides the toolbar's Stop button
(:data:`HIDE_TOOLBAR_STOP`; on a loaded machine a refresh can still take long enough for it to
appear).
"""

import streamlit as st

from dashboard import auth_ui, charts, loaders, ui  # auth_ui: access control (auth engineer)
from dashboard import webrtc_glue as glue
from dashboard.plaintext import plain, say
from fer_core import consent_flow as flow
from fer_core import live_view
from fer_core.analyze import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, MediaError
from fer_core.auth import Perm  # access control (auth engineer)
from fer_core.errors import ModelFileError
from fer_core.session_info import SessionInfo

NEW_SUBJECT = "New subject…"
RECORDER_KEY = "record.recorder"
GOTO_KEY = "record.goto_summary"
SUBJECT_CHOICE_KEY = "record.subject_choice"
ANALYSED_KEY = "record.analysed"  # the last session made from an uploaded file
REFRESH_S = 0.5
#: CSS that hides Streamlit's toolbar Stop while recording (the camera's STOP is the one Stop)
HIDE_TOOLBAR_STOP = ('<style>[data-testid="stStatusWidget"] button '
                     '{display: none !important;}</style>')
state = st.session_state


def _goto_summary(subject: str, session: str) -> None:
    # a callback runs before the sidebar widgets exist, so their keys may still be set here
    state[ui.SUBJECT_KEY] = subject
    state[ui.SESSION_KEY] = session
    state[ui.PENDING_SUBJECT_KEY] = subject
    state[GOTO_KEY] = True


if state.pop(GOTO_KEY, False):
    st.switch_page("pages/session.py")
flow.apply_pending_reset(state)  # before the checkbox exists in this run

auth_ui.require(Perm.RECORD)  # access control (auth engineer): server-side role check
st.title("Record a session")
try:
    model = loaders.model()
except (FileNotFoundError, ModelFileError) as exc:
    st.error(f"No expression model available: {plain(exc)}. Ship one as `models/fast.pt` or set "
             "`FER_MODEL` to a model file.")
    st.stop()

recorder: glue.WebRtcRecorder | None = state.get(RECORDER_KEY)
if recorder is None or (recorder.model is not model and not recorder.recording):
    recorder = glue.WebRtcRecorder(model, loaders.store())
    state[RECORDER_KEY] = recorder
if recorder.closing:  # STOP: the camera thread is saving the session; show its result
    with st.spinner("Saving the session..."):
        recorder.wait_closed(timeout=120)
recording = recorder.recording
if not recording and flow.audit_end(state, auth_ui.audit, recorder.finished):
    st.rerun()  # ended on the camera thread: audited, and consent is asked again
st.caption(f"Model `{model.name}` {model.version} · log store `{loaders.root()}`. "
           "Only predictions are stored, never images, unless you opt in below.")

# ---------------------------------------------------------------- who, what, consent
subjects = loaders.subjects()
known = sorted(subjects["subject"].tolist()) if not subjects.empty else []
if state.get(ui.SUBJECT_KEY) in known:  # start on the subject picked in the sidebar
    state.setdefault(SUBJECT_CHOICE_KEY, state[ui.SUBJECT_KEY])
left, right = st.columns(2)
choice = left.selectbox("Subject", [NEW_SUBJECT, *known], key=SUBJECT_CHOICE_KEY,
                        disabled=recording, on_change=flow.reset_consent, args=(state,))
subject, subject_error = choice, None
if choice == NEW_SUBJECT:
    subject = left.text_input("New subject id", key="record.new_subject", disabled=recording,
                              placeholder="e.g. P017", max_chars=64,
                              on_change=flow.reset_consent, args=(state,)).strip()
    # every subject in the store, also those this account cannot see: never a second "P017";
    # but the subject this page is recording (or just recorded) is this one, not another
    made = {sid[0] for sid in (recorder.session_id,
                               recorder.finished and (recorder.finished.subject, "")) if sid}
    subject_error = flow.new_subject_problem(
        subject, [s for s in loaders.store_subjects()["subject"] if s not in made])
    if subject and subject_error:  # the message quotes the typed id: plain text
        say(left, "error", subject_error)
label = right.text_input("Session label", key="record.label", disabled=recording,
                         placeholder="e.g. baseline, task 2")
notes = right.text_area("Notes", key="record.notes", disabled=recording, height=80)
save_video = st.checkbox(
    "Also save the camera video (images of the person) — off by default", key="record.video",
    disabled=recording, help=f"Saved as .avi files under `{glue.media_dir()}`, outside the log "
    "store. Leave off to store predictions only.")
st.checkbox(f"**Consent.** {flow.CONSENT_TEXT}", key=flow.CONSENT_KEY, disabled=recording,
            on_change=flow.consent_changed, args=(state,),
            help="Asked again for every recording and whenever the subject changes.")
consent_at = flow.consent_at(state)

info: SessionInfo | None = None  # the session's context, for the camera and the upload alike
# --- access control (auth engineer): may this account record this subject? -----------
if consent_at and subject_error is None:
    subject_error = auth_ui.claim_subject(subject, loaders.root())
    if subject_error:
        say(left, "error", subject_error)
# ---------------------------------------------------------------------------------------
if consent_at and subject_error is None:
    info = SessionInfo(subject=subject, label=label.strip(), notes=notes,
                       operator=auth_ui.current().username,  # auth: who recorded
                       consent=flow.consent_record(subject, consent_at, auth_ui.consent_by()))


@st.fragment(run_every=REFRESH_S)
def live_panel() -> None:
    """Recording badge, frame count, processed rate, face found, the current face's bars."""
    recorder.drain()
    history = list(recorder.history)
    status = live_view.live_status(history, recorder.processed_fps())
    sid = recorder.session_id
    st.markdown(f":red-badge[:material/fiber_manual_record: REC] session `{sid[1]}`"
                if sid else "Waiting for the first frame...")
    if sid:
        flow.audit_start(state, auth_ui.audit, *sid)
    c1, c2, c3 = st.columns(3)
    c1.metric("Frames processed", f"{status.frames}")
    c2.metric("Processed rate (fps)", f"{status.fps:.1f}",  # a short value: the column is narrow
              help="Frames actually analysed and logged per second (slower processing "
              "drops camera frames; each logged frame keeps its own timestamp).")
    c3.metric("Face found", status.face_text,
              help="Whether the newest processed frame had a face.")
    st.markdown("Now: " + status.now_text)
    face = next((u for u in reversed(history) if u.probs is not None), None)
    if face is not None:
        st.plotly_chart(charts.live_bars(live_view.probability_bars(face.probs)),
                        config=ui.PLOTLY_CONFIG, key="record.live_bars")
    if recorder.error:
        say(st, "warning", recorder.error)


@st.fragment(run_every=REFRESH_S)
def live_chart() -> None:
    """The rolling 30-s chart, full width (room for the legend)."""
    history = list(recorder.history)
    if len(history) >= 2 and any(u.probs is not None for u in history):
        st.plotly_chart(charts.live_probabilities(live_view.chart_rows(history)),
                        config=ui.PLOTLY_CONFIG, key="record.live")


def finished_panel(where: str = "camera") -> None:
    """The last finished session, on the tab that made it (camera or upload)."""
    fin = recorder.finished
    if fin is None:
        return
    from_upload = state.get(ANALYSED_KEY) == (fin.subject, fin.session)
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
        playing = ctx.state.playing
        if playing or ctx.state.signalling:
            # armed only between START and STOP, so a frame still in flight after STOP cannot
            # open a new session; frames before the first armed one pass through unlogged
            if not recording:
                recorder.arm(info, save_video=save_video)
        else:
            recorder.arm(None)
            recorder.finish()  # STOP (on_video_ended also closes it, whichever comes first)
            if flow.audit_end(state, auth_ui.audit, recorder.finished):
                st.rerun()  # untick consent: the next recording needs a new tick
        with live_col:
            if playing:  # a STOP click reruns the page, which then stops the refreshing
                st.html(HIDE_TOOLBAR_STOP)
                live_panel()
            else:
                finished_panel()
        if playing:
            from dashboard.segments_ui import recording_controls  # segment buttons, audited

            recording_controls(recorder, live_col, subject)
            live_chart()

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
            result = loaders.analyse_upload(
                [(f.name, f.getvalue()) for f in files], info,
                on_progress=lambda done, total: progress.progress(
                    min(done / total, 1.0) if total else 0.0,
                    text=f"Analysing... {done} of {total or '?'} frames"))
        except (MediaError, ValueError) as exc:
            st.error(f"Could not analyse the upload: {plain(exc)}")
            st.stop()
        progress.empty()
        skipped = (f"Skipped {len(result.skipped)} file(s) that could not be analysed: "
                   + "; ".join(str(s) for s in result.skipped)) if result.skipped else None
        result.error = skipped
        recorder.finished = result
        flow.audit_end(state, auth_ui.audit, recorder.finished, action="analyse")
        state[ANALYSED_KEY] = (result.subject, result.session)
        st.rerun()  # untick consent (the next analysis asks again); the result shows below
    finished_panel("upload")
