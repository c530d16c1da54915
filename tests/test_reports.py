"""The printable reports (fer_core.reports) rendered from synthetic report models.

The PDF is read back with pypdf, as a reader would see it: its text (what a search in the
patient file finds), its pages (A4, numbered "page X of Y", the running header on each) and its
font resources (embedded subsets, so it prints the same anywhere).
"""

from __future__ import annotations

import dataclasses
import io
import re

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from pypdf import PdfReader

from fer_core.reports import Chart, SessionReport, SubjectReport, Table, render_html, render_pdf

ZONE = "Europe/Berlin"
NOTES = "First line of the note.\nSecond line: <b>not bold</b> & kept\n\nAfter a blank line."


def _png(color: str = "C0") -> bytes:
    fig, ax = plt.subplots(figsize=(6, 2.4), dpi=80)
    ax.plot([0, 1, 2], [0, 1, 0], color=color)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def session_report(**changes) -> SessionReport:
    base = SessionReport(
        title="Session report — p01 — 2026-11-02 10:00", time_zone=ZONE, subject="p01",
        session="s-a", generated_at="2026-12-04 21:00", session_label="Baseline interview",
        operator="dr.müller", model_name="fer-cnn-fast", model_version="3.1",
        started="2026-11-02 10:00:00", ended="2026-11-02 10:06:00",
        consent=(("Consent given", "yes"), ("Given at", "2026-11-02 09:59:30"),
                 ("Obtained by", "dr.müller"), ("Text shown", "The person was informed.")),
        pipeline=(("Crops per face", "flip"), ("Full face scan every n-th frame", "10"),
                  ("Chart smoothing window (this report)", "2 s")),
        summary=(("Face in view", "80%"), ("Dominant expression", "happy")),
        segments=(("stimulus A", "2026-11-02 10:01:00 (+60.0 s)",
                   "2026-11-02 10:02:30 (+150.0 s)"),
                  ("door knock", "2026-11-02 10:03:10 (+190.0 s)", "")),
        notes=NOTES, quality="use with care: low frame rate 10:04-10:05",
        charts=(Chart("probabilities (smoothed)", _png()),),
    )
    return dataclasses.replace(base, **changes)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


# ---- PDF ----------------------------------------------------------------------------------------

def test_session_pdf_holds_every_fact_in_one_time_zone():
    data = render_pdf(session_report())
    assert data.startswith(b"%PDF-")
    text = "\n".join(pdf_pages(data))
    for fact in ("Baseline interview", "dr.müller", "fer-cnn-fast 3.1", "Europe/Berlin",
                 "stimulus A", "2026-11-02 10:01:00 (+60.0 s)", "2026-11-02 10:02:30 (+150.0 s)",
                 "door knock", "use with care: low frame rate", "The person was informed.",
                 "Crops per face", "flip", "Face in view", "80%", "Consent record",
                 "Pipeline settings", "Segments and markers"):
        assert fact in text, fact
    assert "UTC" not in text and "GMT" not in text  # one zone: the one named
    zones = set(re.findall(r"\b[A-Z][a-z]+/[A-Z][A-Za-z_]+\b", text))
    assert zones == {ZONE}


def test_session_pdf_keeps_the_notes_line_breaks_as_typed():
    text = "\n".join(pdf_pages(render_pdf(session_report())))
    rows = lines(text)
    first = rows.index("First line of the note.")
    assert rows[first + 1] == "Second line: <b>not bold</b> & kept"  # text, not markup
    assert "After a blank line." in rows[first + 2:first + 4]


def test_a_long_session_pdf_is_paginated_with_header_and_page_numbers():
    many = tuple((f"task {i:02d} with a long description that must wrap inside its cell " * 2,
                  f"2026-11-02 10:{i % 60:02d}:00 (+{60.0 * i:.1f} s)", "")
                 for i in range(60))
    pages = pdf_pages(render_pdf(session_report(segments=many, charts=(
        Chart("probabilities", _png()), Chart("valence", _png("C2"))) * 3)))
    assert len(pages) > 1
    for number, text in enumerate(pages, 1):
        assert "Subject p01 · session s-a (Baseline interview)" in text, number
        assert f"page {number} of {len(pages)}" in text, number
    assert sum("task 59 with a long description" in p for p in pages) == 1  # nothing lost


def test_pdf_pages_are_a4():
    reader = PdfReader(io.BytesIO(render_pdf(session_report())))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points


def _fonts(reader: PdfReader) -> list:
    out = []
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        out += [fonts[name].get_object() for name in fonts]
    return out


def test_pdf_embeds_subsets_of_its_fonts():
    reader = PdfReader(io.BytesIO(render_pdf(session_report())))
    fonts = _fonts(reader)
    assert fonts
    for font in fonts:
        assert re.fullmatch(r"/[A-Z]{6}\+DejaVuSans.*", font["/BaseFont"]), font["/BaseFont"]
        descriptor = (font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                      if "/DescendantFonts" in font else font["/FontDescriptor"])
        assert "/FontFile2" in descriptor.get_object(), font["/BaseFont"]  # TrueType embedded


def test_pdf_needs_no_system_font(tmp_path):
    """The font comes from matplotlib's package; a folder without it is a clear error."""
    with pytest.raises(FileNotFoundError, match="DejaVuSans"):
        render_pdf(session_report(), fonts=tmp_path)


def test_quality_and_empty_parts():
    text = "\n".join(pdf_pages(render_pdf(session_report(quality=None, segments=(), notes="",
                                                         consent=()))))
    assert "Recording quality" not in text
    assert "No segments or markers were set in this session." in text
    assert "none is stored with this session" in text


def test_synthetic_report_says_so():
    text = "\n".join(pdf_pages(render_pdf(session_report(synthetic=True))))
    assert "SYNTHETIC DATA" in text
    assert "SYNTHETIC" not in "\n".join(pdf_pages(render_pdf(session_report())))


# ---- HTML ---------------------------------------------------------------------------------------

def test_session_html_escapes_typed_text_and_keeps_line_breaks():
    html = render_html(session_report(session_label="<img src=x onerror=alert(1)>"))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>not bold</b>" not in html
    # the note as typed, line breaks included, inside a pre-wrap block
    escaped = NOTES.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f'<p class="text plain">{escaped}</p>' in html
    assert ".text { white-space: pre-wrap;" in html


def test_session_html_holds_every_fact_in_one_time_zone():
    html = render_html(session_report())
    assert html.count("data:image/png;base64,") == 1
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # may spell anything
    for fact in ("Baseline interview", "dr.müller", "fer-cnn-fast 3.1", "times in Europe/Berlin",
                 "stimulus A", "2026-11-02 10:02:30 (+150.0 s)", "use with care",
                 "Text shown", "Crops per face"):
        assert fact in html, fact
    assert "UTC" not in html
    assert "<script" not in html and "http://" not in html and "https://" not in html


# ---- the subject report -------------------------------------------------------------------------

def subject_report(**changes) -> SubjectReport:
    base = SubjectReport(
        title="Subject report — p01 — 2026-11-01 to 2026-11-30", time_zone=ZONE, subject="p01",
        period="2026-11-01 to 2026-11-30", generated_at="2026-12-04 21:00",
        summary=(("Sessions", "2"), ("Recorded time", "12 min 00 s")),
        sessions=Table(("start", "session", "label", "flagged"), (
            ("2026-11-02 10:00", "s-a", "Baseline interview", ""),
            ("2026-11-09 10:00", "s-b", "week 2", "yes"))),
        baseline="Baseline: sessions marked as baseline (s-a).\n2026-11-09 10:00: higher.",
        segment_comparison=Table(("segment", "session", "happy"), (
            ("stimulus A", "s-a", "40%"), ("stimulus A", "s-b", "25%"))),
        charts=(Chart("expression shares per session", _png()),),
    )
    return dataclasses.replace(base, **changes)


def test_subject_pdf_and_html():
    pages = pdf_pages(render_pdf(subject_report()))
    text = "\n".join(pages)
    for fact in ("Subject p01 · 2026-11-01 to 2026-11-30", "Europe/Berlin", "week 2",
                 "Baseline: sessions marked as baseline (s-a).",
                 "Segments compared across sessions", "stimulus A", "25%", "Sessions"):
        assert fact in text, fact
    assert "UTC" not in text
    assert f"page 1 of {len(pages)}" in pages[0]
    rows = lines(text)
    assert rows[rows.index("Baseline: sessions marked as baseline (s-a).") + 1] == \
        "2026-11-09 10:00: higher."
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "",
                  render_html(subject_report(segment_comparison=None)))
    assert "week 2" in html and "Segments compared" not in html and "UTC" not in html


# ---- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "message"), [
    ({"time_zone": "Mars/Olympus"}, "not an IANA time zone"),
    ({"segments": (("only a label", "10:00"),)}, "segments: every row"),
    ({"segments": (("label", "10:00", None),)}, "segments: every row"),
    ({"consent": (("given", True),)}, "consent: every row"),
    ({"session": " "}, "needs a session"),
    ({"subject": ""}, "needs a subject"),
])
def test_a_malformed_report_is_refused_where_it_is_built(changes, message):
    with pytest.raises(ValueError, match=message):
        session_report(**changes)


def test_a_chart_must_be_a_png_and_a_table_row_must_fit():
    with pytest.raises(ValueError, match="not a PNG"):
        Chart("x", b"GIF89a...")
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Table(("a", "b", "c"), (("1", "2"),))
    with pytest.raises(TypeError, match="not formatted text"):
        Table(("a",), ((1.5,),))


@pytest.mark.subprocess
def test_the_pdf_library_loads_only_when_a_pdf_is_made():
    """Pages that offer a report import fer_core.reports on first open; fpdf2 (and its font
    tools) wait for the first PDF."""
    import os
    import subprocess
    import sys

    code = ("import sys, fer_core.reports as r; assert 'fpdf' not in sys.modules; "
            "r.render_pdf; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=os.environ, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
