"""Printable reports for the patient file: one data model, rendered as HTML and as PDF.

Why a model between the dashboard and the renderers: the session and subject reports must say
the same things in both formats (one time zone, who recorded, with which model, under which
consent), so the dashboard formats every fact once into a :class:`SessionReport` or
:class:`SubjectReport` and :func:`render_html` / :func:`render_pdf` only lay them out. Nothing
here reads the log store or formats a time: the facts arrive as text, already in the report's
zone, which is why a renderer cannot slip a UTC time onto a local page.
"""

from __future__ import annotations

from pathlib import Path

from fer_core.reports.html import render_html
from fer_core.reports.model import (
    Chart,
    SessionReport,
    SubjectReport,
    Table,
)


def render_pdf(report: SessionReport | SubjectReport, *, fonts: Path | None = None) -> bytes:
    """The report as an A4 PDF (:func:`fer_core.reports.pdf.render_pdf`).

    Why a wrapper: fpdf2 and its font tools take a second or two to import on a busy machine,
    and the pages that offer a report import this package on every first open; the PDF
    library is loaded only when a PDF is made.
    """
    from fer_core.reports.pdf import render_pdf as render

    return render(report, fonts=fonts)


__all__ = ["Chart", "SessionReport", "SubjectReport", "Table", "render_html", "render_pdf"]
