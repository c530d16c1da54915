"""Who, what and how of one recording: one :class:`SessionInfo` from the page or CLI down.

Why one type: the session context (subject, session, operator, label, notes, consent, settings)
used to be spelled out as parameter lists in six places (``analyze_source``,
``analyze_uploads``, ``analyze_path``, ``SessionRecorder.open``, ``LogStore.open_session`` and
the Record page's settings), and they drifted (``analyze_path`` had no operator). Now the Record
page and ``python -m fer_core analyze`` build one :class:`SessionInfo`; live recording, analysis
and the upload pass it down unchanged to :func:`open_writer`, the one adapter to
:meth:`fer_core.logstore.LogStore.open_session`. Ids are validated here, once, with the log
store's own rule (:func:`fer_core.logstore.validate_id`), when the object is built: a bad id is
refused before anything is decoded or written.

What differs between the entry points is only what the frames' origin decides: ``source``
("webcam" live, "video" or "image" from a file, filled in by :meth:`SessionInfo.for_source`),
the start time, the generated session id, and the entry point's own ``extra`` keys (live:
``client``, ``video_file``; a file: ``input``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fer_core.logstore import LogStore, SessionWriter, validate_id
from fer_core.logstore.schema import SOURCES
from fer_core.pipeline import DEFAULT_SETTINGS, PipelineSettings

if TYPE_CHECKING:
    from fer_core.clock import SessionClock


@dataclass(frozen=True)
class SessionInfo:
    """The context of one session, fixed before its first frame.

    ``session``: None generates an id from the start time when the session opens.
    ``source``: None lets the entry point fill in its frames' kind (see :meth:`for_source`);
    a value given here must agree with it. ``settings``: the pipeline settings that make the
    rows (written into the metadata as ``extra["pipeline"]``). ``extra``: more metadata, merged
    under the entry point's own keys.
    """

    subject: str
    session: str | None = None
    operator: str = ""
    label: str = ""
    notes: str = ""
    consent: Mapping[str, Any] | None = None
    source: str | None = None
    settings: PipelineSettings = DEFAULT_SETTINGS
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_id(self.subject, "subject")
        if self.session is not None:
            validate_id(self.session, "session")
        if self.source is not None and self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {sorted(SOURCES)}")
        if not isinstance(self.settings, PipelineSettings):
            raise TypeError("settings must be a fer_core.pipeline.PipelineSettings")
        for name in ("operator", "label", "notes"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string")

    def replace(self, **changes: Any) -> SessionInfo:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def for_source(self, kind: str) -> SessionInfo:
        """This context for frames of ``kind`` ("webcam", "video", "image").

        Why refuse a mismatch rather than overwrite: a caller who wrote ``source="webcam"`` and
        analyses a file would otherwise get metadata that silently says something else.
        """
        if self.source is not None and self.source != kind:
            raise ValueError(f"this session's source is {self.source!r}, but its frames come "
                             f"from a {kind!r} source")
        return self if self.source == kind else self.replace(source=kind)


def open_writer(store: LogStore, info: SessionInfo, *, model_name: str, model_version: str,
                extra: Mapping[str, Any] | None = None, started_at: datetime | None = None,
                clock: SessionClock | None = None) -> SessionWriter:
    """Open ``info``'s session in ``store`` (the one adapter to :meth:`LogStore.open_session`).

    ``extra``: the entry point's own metadata (its pipeline, its input), laid over
    ``info.extra``. ``started_at`` (a file's own clock) or ``clock`` (live): see
    :meth:`LogStore.open_session`.
    """
    if info.source is None:
        raise ValueError("the session's source is not set (SessionInfo.for_source)")
    return store.open_session(
        info.subject, info.session, operator=info.operator, label=info.label, notes=info.notes,
        model_name=model_name, model_version=model_version, source=info.source,
        consent=dict(info.consent) if info.consent is not None else None,
        started_at=started_at, clock=clock, extra={**info.extra, **(extra or {})},
    )
