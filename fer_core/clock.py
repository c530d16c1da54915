"""The one clock rule of a recording: wall time read once, durations from a monotonic clock.

Why: the wall clock (``datetime.now``) can step -- an NTP correction, a daylight-saving mistake,
someone setting the time by hand. Stamping frames from it made a recording whose clock was set
back by 1 h during the take give 1,500 frames one timestamp and a session that ended before it
began (issue 23). So every timestamp of a session is::

    started_at (the wall clock, read once when the session opens)
        + seconds elapsed on time.monotonic() since then

A wall-clock step after the start changes no duration and no order; the recording keeps the
wall-clock time of its start, as a reader expects. The same two classes serve every frame
source:

* :class:`SessionClock` -- the session's "now": the log writer's end time and default marker
  time, and the reference the live frame clock is kept to.
* :class:`FrameClock` -- a frame's time from its *media* clock (the WebRTC frame time, a video
  file's position): live (:meth:`FrameClock.live`, used by :mod:`fer_core.live`), kept within
  ``max_lag`` of the session clock; from a file (:meth:`FrameClock.from_file`, used by
  :mod:`fer_core.analyze`), simply ``start + media time``. Stamps never go backwards within a
  session. These two constructors are the only places frame timestamps of a video are made.

A still image has no media clock: it is stamped with its file's modification time
(:func:`file_time`) or, on request, the time of analysis (:func:`wall_now`, read once per run).

Nothing here reads the wall clock except at a session's start (and a bare :class:`FrameClock`
built without a reference, kept for callers that pass ``now`` explicitly).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def wall_now() -> datetime:
    """The wall clock, in UTC (read once per session by :class:`SessionClock`)."""
    return datetime.now(UTC)


def file_time(path: str | os.PathLike) -> datetime:
    """A still image's timestamp: its file's modification time, in UTC (it has no media clock)."""
    return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)


def _aware_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value!r} is naive; pass a timezone-aware datetime (UTC)")
    return value.astimezone(UTC)


class SessionClock:
    """Wall time of one session: its start's wall time plus monotonic seconds since then.

    ``started_at``: the session's start (default: the wall clock now, read once). ``wall`` and
    ``monotonic`` are the clocks to use (injectable for tests; the defaults are
    :func:`wall_now` and :func:`time.monotonic`, looked up at call time).
    """

    def __init__(self, started_at: datetime | None = None, *,
                 wall: Callable[[], datetime] | None = None,
                 monotonic: Callable[[], float] | None = None) -> None:
        self._monotonic = monotonic
        self._mono0 = self._mono()
        start = started_at if started_at is not None else (wall or wall_now)()
        self.started_at = _aware_utc(start, "started_at")

    def _mono(self) -> float:
        return self._monotonic() if self._monotonic is not None else time.monotonic()

    def elapsed_s(self) -> float:
        """Seconds since the session started (monotonic: never negative, never stepped)."""
        return max(0.0, self._mono() - self._mono0)

    def now(self) -> datetime:
        """The session's current time: ``started_at`` + :meth:`elapsed_s`."""
        return self.started_at + timedelta(seconds=self.elapsed_s())


class FrameClock:
    """Timestamps for frames from their media clock (seconds), never going backwards.

    Live (``now`` given, ``max_lag`` a number): why not the time of processing? With
    asynchronous processing a frame may wait in a queue, so the moment it is processed is not
    the moment it was captured; the media clock keeps the true spacing. It is anchored to
    ``now`` (the :class:`SessionClock`) at the first frame and re-anchored if it jumps backwards
    or drifts outside ``[now - max_lag, now]`` (RTP clocks can wrap or restart).

    From a file (``start`` given, ``max_lag=None``): ``start + media time``, the container's own
    clock, so dropped or variable-rate frames keep their true spacing; never re-anchored.

    In both, a stamp earlier than the previous one is raised to it: rows of a session stay in
    time order whatever the media clock does.
    """

    def __init__(self, max_lag: float | None = 2.0,
                 now: Callable[[], datetime] | None = None, *,
                 start: datetime | None = None) -> None:
        self.max_lag = max_lag
        self._now = now or wall_now
        self._anchor: tuple[float, datetime] | None = (
            (0.0, _aware_utc(start, "start")) if start is not None else None)
        self._last_media: float | None = None
        self._last_stamp: datetime | None = None

    @classmethod
    def live(cls, session: SessionClock, max_lag: float = 2.0) -> FrameClock:
        """A live stream's clock: media time kept within ``max_lag`` s of ``session``'s now."""
        return cls(max_lag=max_lag, now=session.now)

    @classmethod
    def from_file(cls, start: datetime) -> FrameClock:
        """A file's clock: ``start`` + the container's media time, never re-anchored."""
        return cls(max_lag=None, start=start)

    def stamp(self, media_time: float | None, now: datetime | None = None) -> datetime:
        """The timestamp of a frame whose media clock reads ``media_time`` (None: unknown)."""
        if media_time is None:
            ts = now or self._now()
        elif self.max_lag is None and self._anchor is not None:  # a file: its own clock
            ts = self._anchor[1] + timedelta(seconds=media_time - self._anchor[0])
            self._last_media = media_time
        else:
            now = now or self._now()
            ts = None
            if self._anchor is not None and self._last_media is not None \
                    and media_time >= self._last_media:
                ts = self._anchor[1] + timedelta(seconds=media_time - self._anchor[0])
                if self.max_lag is not None and \
                        not now - timedelta(seconds=self.max_lag) <= ts <= now:
                    ts = None
            if ts is None:  # first frame, clock jump or drift: re-anchor
                self._anchor = (media_time, now)
                ts = now
            self._last_media = media_time
        if self._last_stamp is not None and ts < self._last_stamp:
            ts = self._last_stamp  # never out of order within a session
        self._last_stamp = ts
        return ts
