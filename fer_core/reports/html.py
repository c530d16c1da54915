"""A report as one self-contained HTML page (charts inline as base64 PNG).

Why inline PNG and no script: the file opens offline anywhere, prints on paper as seen and stays
small. Every piece of text is escaped (a note or a label is typed by a user and must never become
markup), and text sections keep their line breaks with ``white-space: pre-wrap``.
"""

from __future__ import annotations

import base64
import html

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

_STYLE = """
body { font-family: "DejaVu Sans", sans-serif; max-width: 960px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin-bottom: 0.5em; }
th, td { border: 1px solid #ccc; padding: 4px 10px; vertical-align: top; text-align: left; }
th { background: #f4f4f4; } img { max-width: 100%; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.warning { background: #fff3cd; border: 1px solid #e0b000; padding: 6px; font-weight: bold; }
.note { font-size: 0.85em; color: #555; }
.running { color: #555; font-size: 0.9em; }
@media print { figure, tr { page-break-inside: avoid; } }
"""


def _text(value: str) -> str:
    return html.escape(value, quote=True)


def _facts(rows) -> str:
    body = "\n".join(f"<tr><th>{_text(k)}</th><td class=\"text\">{_text(v)}</td></tr>"
                     for k, v in rows)
    return f"<table>\n{body}\n</table>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{_text(c)}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(f'<td class="text">{_text(c)}</td>' for c in row)
                     + "</tr>" for row in table.rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _section(section: Section) -> str:
    heading = f"<h2>{_text(section.heading)}</h2>\n" if section.heading else ""
    if isinstance(section, Facts):
        return heading + _facts(section.rows)
    if isinstance(section, TableSection):
        if not section.table.rows:
            return heading + f'<p class="text">{_text(section.empty_text)}</p>'
        return heading + _table(section.table)
    if isinstance(section, Text):
        return heading + f'<p class="text {section.kind}">{_text(section.text)}</p>'
    if isinstance(section, Charts):
        if not section.charts:
            return ""
        figures = "\n".join(
            f'<figure><img alt="{_text(c.title)}" src="data:image/png;base64,'
            f'{base64.b64encode(c.png).decode()}"><figcaption>{_text(c.title)}'
            + (f" — {_text(c.caption)}" if c.caption else "") + "</figcaption></figure>"
            for c in section.charts)
        return heading + figures
    raise TypeError(f"unknown report section {section!r}")


def render_html(report: SessionReport | SubjectReport) -> str:
    """The report as an HTML document (UTF-8 text)."""
    body = "\n".join(part for part in map(_section, report.sections()) if part)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_text(report.title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{_text(report.title)}</h1>
<p class="running">{_text(report.running_header)} · times in {_text(report.time_zone)}</p>
{body}
</body></html>
"""
