"""A report as an A4 PDF, made offline with fpdf2 (pure Python: no browser, no system library).

Why fpdf2: the server has no Chrome to print HTML, and a patient file wants a real paginated
document. fpdf2 is maintained, pure Python, and embeds a subset of a TrueType font, so every
character a user typed (umlauts, accents, dashes) prints the same on any reader. The font is the
DejaVu Sans that matplotlib ships inside its own package (``matplotlib.get_data_path()``), so no
system font is needed either. Every page carries the report's running header (subject, session
or period) and "page X of Y", so a loose page still says whose it is and where it belongs.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import Align, XPos, YPos
from PIL import Image

from fer_core.reports.model import (
    Charts,
    Facts,
    Section,
    SessionReport,
    SubjectReport,
    Table,
    TableSection,
    Text,
)

log = logging.getLogger(__name__)

FONT = "DejaVuSans"
#: font styles fpdf2 registers ("" regular, "B" bold, "I" oblique) and their DejaVu files
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
MARGIN_MM = 15
BODY_PT, SMALL_PT, HEADING_PT, TITLE_PT = 9.5, 8, 12, 15
LINE_MM = 5


def font_dir() -> Path:
    """Where matplotlib keeps its DejaVu fonts (always installed with it)."""
    import matplotlib  # the path only: pyplot is not needed here

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _ReportPDF(FPDF):
    """FPDF with the report's running header and "page X of Y" footer on every page."""

    def __init__(self, running_header: str, time_zone: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_header = running_header
        self.time_zone = time_zone

    def header(self) -> None:
        self.set_font(FONT, "", SMALL_PT)
        self.set_text_color(90)
        self.cell(0, 5, self.running_header, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(3)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", SMALL_PT)
        self.set_text_color(90)
        self.cell(0, 5, f"times in {self.time_zone}", align=Align.L)
        self.set_x(self.l_margin)
        # {nb} is fpdf2's alias for the page count, filled in when the document is closed
        self.cell(0, 5, f"page {self.page_no()} of {{nb}}", align=Align.R)
        self.set_text_color(0)


def _new_pdf(report: SessionReport | SubjectReport, fonts: Path) -> _ReportPDF:
    pdf = _ReportPDF(report.running_header, report.time_zone)
    for style, name in FONT_FILES.items():
        path = fonts / name
        if not path.is_file():
            raise FileNotFoundError(f"the report font {path} is missing (it ships with "
                                    "matplotlib; reinstall matplotlib)")
        pdf.add_font(FONT, style, str(path))
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(report.title)
    pdf.set_author("fer-monitor")
    pdf.set_creator("fer-monitor")
    return pdf


def _heading(pdf: FPDF, text: str) -> None:
    if not text:
        return
    if pdf.get_y() + 20 > pdf.page_break_trigger:  # no heading alone at the foot of a page
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT, "B", HEADING_PT)
    pdf.multi_cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", BODY_PT)


def _text(pdf: FPDF, section: Text) -> None:
    _heading(pdf, section.heading)
    if section.kind == "warning":
        pdf.set_font(FONT, "B", BODY_PT)
        pdf.set_fill_color(255, 243, 205)
        pdf.multi_cell(0, LINE_MM + 1, section.text, border=1, fill=True, align=Align.L,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT, padding=1)
        pdf.set_fill_color(255)  # the tables after it fill only what they say they fill
    elif section.kind == "note":
        pdf.ln(3)
        pdf.set_font(FONT, "", SMALL_PT)
        pdf.set_text_color(80)
        pdf.multi_cell(0, LINE_MM - 1, section.text, align=Align.L,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0)
    else:  # as written: multi_cell keeps every line break of the text
        pdf.multi_cell(0, LINE_MM, section.text, align=Align.L,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", BODY_PT)


def _fit(pdf: FPDF, table: Table, size: float) -> tuple[float, ...] | None:
    """Column widths (mm) at font ``size``, or None when even the longest words do not fit.

    Each column gets room for its longest word (words are never broken: "confidence",
    "2026-11-02") and, where the page allows, for its longest cell (up to 45% of the width);
    what is left over goes to the columns whose cells would otherwise wrap.
    """
    pdf.set_font(FONT, "B", size)
    head_words = [max(pdf.get_string_width(w) for w in [*c.split(), ""]) for c in table.columns]
    pdf.set_font(FONT, "", size)
    pad, cap = 3.0, 0.45 * pdf.epw
    need, want = [], []
    for i, head in enumerate(head_words):
        cells = [r[i] for r in table.rows]
        words = [pdf.get_string_width(w) for c in cells for w in c.split()]
        need.append(max([head, *words, 3.0]) + pad)
        full = max([pdf.get_string_width(c) for c in cells] or [0.0])
        want.append(max(need[-1], min(full + pad, cap)))
    if sum(want) <= pdf.epw:
        spare = pdf.epw - sum(want)
        return tuple(w + spare / len(want) for w in want)
    if sum(need) > pdf.epw:
        return None
    spare, short = pdf.epw - sum(need), sum(w - n for w, n in zip(want, need, strict=True))
    return tuple(n + spare * (w - n) / short for w, n in zip(want, need, strict=True))


def _table(pdf: FPDF, table: Table, *, headings: bool = True,
           widths: tuple[float, ...] | None = None) -> None:
    """A table whose cells wrap; a wide one is set in a smaller font until its words fit."""
    size = BODY_PT if len(table.columns) <= 5 else SMALL_PT
    while widths is None:
        widths = _fit(pdf, table, size)
        if widths is None and size <= 6:  # as small as is readable: fpdf2 breaks the words
            widths = tuple(1.0 for _ in table.columns)
        size = size if widths is not None else size - 0.5
    bold = FontFace(emphasis="BOLD", fill_color=(240, 240, 240))
    rows = [table.columns, *table.rows] if headings else list(table.rows)
    pdf.set_font(FONT, "", size)
    with pdf.table(col_widths=widths, text_align="LEFT", align="LEFT", cell_fill_mode="NONE",
                   first_row_as_headings=headings, headings_style=bold,
                   line_height=size * 0.5, padding=1, v_align="TOP") as out:
        for values in rows:
            row = out.row()
            for i, value in enumerate(values):
                # a row heading (Facts) in bold; ``or " "``: fpdf2 draws no box for ""
                row.cell(value or " ", style=bold if not headings and i == 0 else None)
    pdf.set_font(FONT, "", BODY_PT)
    pdf.ln(2)


def _charts(pdf: FPDF, section: Charts) -> None:
    if not section.charts:
        return
    for i, chart in enumerate(section.charts):
        with Image.open(io.BytesIO(chart.png)) as img:
            width_px, height_px = img.size
        w = pdf.epw
        h = w * height_px / width_px
        # the chart with its title (and the section's heading with the first chart) on one page
        if pdf.get_y() + h + (20 if i == 0 else 10) > pdf.page_break_trigger:
            pdf.add_page()
        if i == 0:
            _heading(pdf, section.heading)
        pdf.set_font(FONT, "B", BODY_PT)
        pdf.multi_cell(0, LINE_MM, chart.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.image(io.BytesIO(chart.png), x=pdf.l_margin, w=w, h=h, alt_text=chart.title)
        pdf.set_font(FONT, "", SMALL_PT)
        if chart.caption:
            pdf.multi_cell(0, LINE_MM - 1, chart.caption, align=Align.L,
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", BODY_PT)
        pdf.ln(2)


def _section(pdf: FPDF, section: Section) -> None:
    if isinstance(section, Facts):
        _heading(pdf, section.heading)
        _table(pdf, Table(("", ""), section.rows), headings=False, widths=(1, 3))
    elif isinstance(section, TableSection):
        _heading(pdf, section.heading)
        if section.table.rows:
            _table(pdf, section.table)
        else:
            pdf.multi_cell(0, LINE_MM, section.empty_text, new_x=XPos.LMARGIN,
                           new_y=YPos.NEXT)
    elif isinstance(section, Text):
        _text(pdf, section)
    elif isinstance(section, Charts):
        _charts(pdf, section)
    else:
        raise TypeError(f"unknown report section {section!r}")


def render_pdf(report: SessionReport | SubjectReport, *, fonts: Path | None = None) -> bytes:
    """The report as PDF bytes: A4, paginated, the DejaVu Sans font embedded as a subset.

    ``fonts``: a folder holding the DejaVu Sans files (default: matplotlib's own).
    """
    pdf = _new_pdf(report, fonts or font_dir())
    pdf.add_page()
    pdf.set_font(FONT, "B", TITLE_PT)
    pdf.multi_cell(0, 8, report.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", BODY_PT)
    for section in report.sections():
        _section(pdf, section)
    data = bytes(pdf.output())
    log.debug("report PDF: %d pages, %d bytes", pdf.pages_count, len(data))
    return data
