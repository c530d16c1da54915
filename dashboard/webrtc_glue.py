"""Everything that touches streamlit-webrtc: the camera component and ``av`` frames -> recorder.

The live recording itself (consent gate, session life cycle, frame clock, opt-in video, the
queue to the page) is :class:`fer_core.live.LiveRecorder`; this module only adapts
``av.VideoFrame``s to it -- image as BGR, media clock as ``frame.time`` -- and wires its
callbacks to ``webrtc_streamer``.

Threads: ``webrtc_streamer`` calls :meth:`WebRtcRecorder.on_frames` on its own processing
thread (never the script thread), so nothing here makes an ``st.*`` call. With
``async_processing`` the frames that arrive while one is processed queue up; the callback gets
them all, processes the newest and counts the rest as dropped (recorded per session, see
:mod:`fer_core.measures.quality`): only frames actually processed are logged, each with its own
timestamp from its media clock.

Offline: ``rtc_configuration={"iceServers": []}``. ``None`` or ``{}`` would make streamlit-webrtc
fetch TURN credentials (Twilio/Hugging Face) and use Google's STUN server; with an empty list,
browser and server connect over host candidates only, which is all a local app needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import av
from streamlit_webrtc import WebRtcMode, WebRtcStreamerContext, webrtc_streamer

from fer_core.live import LiveRecorder, media_dir

__all__ = ["COMPONENT_KEY", "MEDIA_CONSTRAINTS", "RTC_CONFIGURATION", "WebRtcRecorder", "camera",
           "media_dir"]

log = logging.getLogger(__name__)

#: No STUN/TURN servers: nothing leaves the machine (see the module docstring).
RTC_CONFIGURATION: dict[str, Any] = {"iceServers": []}
#: Camera only: the microphone is never requested.
MEDIA_CONSTRAINTS: dict[str, Any] = {"video": True, "audio": False}
COMPONENT_KEY = "record.webrtc"


class WebRtcRecorder(LiveRecorder):
    """The live recorder with streamlit-webrtc's two callbacks."""

    def on_frame(self, frame: av.VideoFrame, dropped: int = 0) -> av.VideoFrame:
        """Process one frame (``dropped``: frames skipped before it); never raises."""
        try:
            drawn = self.process_image(frame.to_ndarray(format="bgr24"), frame.time, dropped)
        except Exception as exc:  # never kill the stream; the page shows the error
            log.exception("frame processing failed")
            self.error = f"frame processing failed: {exc}"
            return frame
        return frame if drawn is None else av.VideoFrame.from_ndarray(drawn, format="bgr24")

    async def on_frames(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """``queued_video_frames_callback``: every frame that arrived while the previous one
        was processed. Only the newest is processed (as streamlit-webrtc's own fallback does);
        the others are counted as dropped, for the session's recording quality."""
        return [self.on_frame(frames[-1], dropped=len(frames) - 1)]

    def on_ended(self) -> None:
        """``on_video_ended``: the browser stopped sending; close the session now."""
        self.finish()


def camera(recorder: WebRtcRecorder, *, on_change: Callable[[], None] | None = None,
           key: str = COMPONENT_KEY) -> WebRtcStreamerContext:
    """The camera component, wired to ``recorder`` (offline ICE, video only, async)."""
    return webrtc_streamer(
        key=key,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=RTC_CONFIGURATION,
        media_stream_constraints=MEDIA_CONSTRAINTS,
        queued_video_frames_callback=recorder.on_frames,
        on_video_ended=recorder.on_ended,
        async_processing=True,
        on_change=on_change,
        video_html_attrs={"autoPlay": True, "controls": False, "muted": True,
                          "style": {"width": "100%"}},
    )
