"""The facts of a printable report, already formatted as text, and their order on the page.

Why text and not timestamps or numbers: the report must show one time zone throughout, and the
dashboard already formats every time in its display zone (the zone its chart axes use). Taking
the formatted strings here means the HTML and PDF renderers print exactly what the dashboard
shows and never format a time themselves. The model checks what it can check cheaply (a real
zone name, three-column segment rows, PNG charts), so a malformed report fails where it is
built, with a message that names the field, not half-way through a PDF.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Columns of the segments table: today's point markers have an empty end; tomorrow's task
#: segments (issue 19, item 1) fill it in. One shape for both, so the report needs no change.
SEGMENT_COLUMNS = ("label", "start", "end")
DISCLAIMER = ("Expression shares are the model's predictions on frames with a face in view; "
              "they describe the recording, not a diagnosis.")
SYNTHETIC_TEXT = ("SYNTHETIC DATA — generated for demonstration, not a recording of a person.")

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Chart:
    """One chart as a PNG image (drawn by the dashboard with matplotlib) and its caption."""

    title: str
    png: bytes
    caption: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.png, bytes | bytearray) or not bytes(self.png[:8]) == PNG_MAGIC:
            raise ValueError(f"chart {self.title!r} is not a PNG image")


@dataclass(frozen=True)
class Table:
    """A table of formatted cells; every row has one cell per column."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        rows = tuple(tuple(r) for r in self.rows)
        for i, row in enumerate(rows):
            if len(row) != len(self.columns):
                raise ValueError(f"table row {i} has {len(row)} cells for "
                                 f"{len(self.columns)} columns {self.columns}")
            if not all(isinstance(c, str) for c in row):
                raise TypeError(f"table row {i} holds a cell that is not formatted text: {row!r}")
        object.__setattr__(self, "rows", rows)


# ---- the sections a renderer lays out, in order -------------------------------------------

@dataclass(frozen=True)
class Facts:
    """Label/value rows (a two-column table with the labels as row headings)."""

    heading: str
    rows: Pairs


@dataclass(frozen=True)
class TableSection:
    heading: str
    table: Table
    #: shown instead of an empty table
    empty_text: str = ""


@dataclass(frozen=True)
class Text:
    """Text kept as written: line breaks stay line breaks, nothing is markup."""

    heading: str
    text: str
    #: "plain", "warning" (the synthetic banner) or "note" (small print)
    kind: str = "plain"


@dataclass(frozen=True)
class Charts:
    heading: str
    charts: tuple[Chart, ...]


Section = Facts | TableSection | Text | Charts


def _pairs(value: Any, name: str) -> Pairs:
    rows = tuple(tuple(r) for r in value)
    for row in rows:
        if len(row) != 2 or not all(isinstance(c, str) for c in row):
            raise ValueError(f"{name}: every row must be a (label, formatted value) pair of "
                             f"strings, got {row!r}")
    return rows


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"time_zone {name!r} is not an IANA time zone name") from exc


@dataclass(frozen=True)
class _Report:
    """What every report has: who it is about, when it was made, in which zone its times are."""

    title: str
    time_zone: str
    subject: str
    #: when the report was made, formatted in ``time_zone``
    generated_at: str
    summary: Pairs = ()
    charts: tuple[Chart, ...] = ()
    synthetic: bool = False
    footnotes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("title", "time_zone", "subject", "generated_at"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"a report needs a {name}")
        _check_zone(self.time_zone)
        object.__setattr__(self, "summary", _pairs(self.summary, "summary"))
        charts = tuple(self.charts)
        if not all(isinstance(c, Chart) for c in charts):
            raise TypeError("charts must be fer_core.reports.Chart objects")
        object.__setattr__(self, "charts", charts)
        object.__setattr__(self, "footnotes", tuple(str(f) for f in self.footnotes))

    @property
    def running_header(self) -> str:
        """The line at the top of every PDF page (a loose page still says whose it is)."""
        raise NotImplementedError

    def sections(self) -> list[Section]:
        raise NotImplementedError

    def _banner(self) -> list[Section]:
        return [Text("", SYNTHETIC_TEXT, "warning")] if self.synthetic else []

    def _closing(self) -> list[Section]:
        notes = [*self.footnotes, f"Times in {self.time_zone}. Generated {self.generated_at} "
                 f"by fer-monitor. {DISCLAIMER}"]
        return [Text("", "\n".join(notes), "note")]


@dataclass(frozen=True)
class SessionReport(_Report):
    """One session for the patient file (issue 19, item 4)."""

    session: str = ""
    session_label: str = ""
    operator: str = ""
    model_name: str = ""
    model_version: str = ""
    #: start and end of the recording, formatted in ``time_zone``
    started: str = ""
    ended: str = ""
    #: the consent record as (field, value) rows; empty: none is stored
    consent: Pairs = ()
    #: pipeline settings that made the rows (detector, crops, smoothing...) as (name, value)
    pipeline: Pairs = ()
    #: (label, start, end or "") rows: point markers today, task segments tomorrow
    segments: tuple[tuple[str, str, str], ...] = ()
    notes: str = ""
    #: the one-line recording-quality verdict, when one was computed
    quality: str | None = None
    #: each interval segment's figures (shares, face in view, valence, confidence), when any
    segment_figures: Table | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.segment_figures is not None and not isinstance(self.segment_figures, Table):
            raise TypeError("segment_figures must be a Table")
        if not self.session.strip():
            raise ValueError("a session report needs a session")
        object.__setattr__(self, "consent", _pairs(self.consent, "consent"))
        object.__setattr__(self, "pipeline", _pairs(self.pipeline, "pipeline"))
        segments = tuple(tuple(s) for s in self.segments)
        for row in segments:
            if len(row) != 3 or not all(isinstance(c, str) for c in row):
                raise ValueError("segments: every row must be (label, start text, end text or "
                                 f"''), got {row!r}")
        object.__setattr__(self, "segments", segments)
        if not isinstance(self.notes, str):
            raise TypeError("notes must be a string")

    @property
    def running_header(self) -> str:
        label = f" ({self.session_label})" if self.session_label else ""
        return f"Subject {self.subject} · session {self.session}{label}"

    def identity(self) -> Pairs:
        """Who, what, when and with which model: the first table of the report."""
        model = " ".join(x for x in (self.model_name, self.model_version) if x) or "—"
        return (
            ("Subject", self.subject),
            ("Session", self.session),
            ("Session label", self.session_label or "—"),
            ("Operator", self.operator or "—"),
            ("Start", self.started or "—"),
            ("End", self.ended or "—"),
            ("Times in", self.time_zone),
            ("Model", model),
        )

    def sections(self) -> list[Section]:
        out: list[Section] = [*self._banner(), Facts("Session", self.identity())]
        if self.quality:
            out.append(Text("Recording quality", self.quality))
        out.append(Facts("Summary", self.summary))
        out.append(TableSection(
            "Segments and markers", Table(SEGMENT_COLUMNS, self.segments),
            "No segments or markers were set in this session."))
        if self.segment_figures is not None and self.segment_figures.rows:
            out.append(TableSection("Figures per segment", self.segment_figures))
        out.append(Text("Notes", self.notes or "—"))
        out.append(Charts("Charts", self.charts))
        out.append(Facts("Consent record", self.consent or (
            ("Consent record", "none is stored with this session"),)))
        out.append(Facts("Pipeline settings", self.pipeline or (("Settings", "not recorded"),)))
        return [*out, *self._closing()]


@dataclass(frozen=True)
class SubjectReport(_Report):
    """All sessions of one subject over a chosen period (issue 19, item 4)."""

    #: the chosen period, formatted ("2026-11-01 to 2026-11-30")
    period: str = ""
    sessions: Table = field(default_factory=lambda: Table(("start", "session")))
    #: which baseline the observations use, and what they found (text, line breaks kept)
    baseline: str = ""
    #: the same segment label across sessions, when segments exist
    segment_comparison: Table | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.period.strip():
            raise ValueError("a subject report needs its period")
        if not isinstance(self.sessions, Table):
            raise TypeError("sessions must be a fer_core.reports.Table")

    @property
    def running_header(self) -> str:
        return f"Subject {self.subject} · {self.period}"

    def sections(self) -> list[Section]:
        out: list[Section] = [
            *self._banner(),
            Facts("Subject", (("Subject", self.subject), ("Period", self.period),
                              ("Times in", self.time_zone), *self.summary)),
        ]
        if self.baseline:
            out.append(Text("Baseline", self.baseline))
        out.append(TableSection("Sessions", self.sessions, "No session in this period."))
        if self.segment_comparison is not None:
            out.append(TableSection("Segments compared across sessions",
                                    self.segment_comparison, "No segments in this period."))
        out.append(Charts("Charts", self.charts))
        return [*out, *self._closing()]


def replace(report: _Report, **changes: Any) -> _Report:
    """A copy of ``report`` with ``changes`` (checked again)."""
    return dataclasses.replace(report, **changes)


def as_pairs(mapping: Sequence[tuple[Any, Any]] | dict) -> Pairs:
    """(label, value) text rows from a mapping or pairs (values formatted with ``str``)."""
    items = mapping.items() if isinstance(mapping, dict) else mapping
    return tuple((str(k), str(v)) for k, v in items)
