"""Printable, self-contained HTML session report (summary table + charts as inline PNG).

Charts are embedded as base64 PNG images rather than interactive plotly, so the file opens
offline anywhere, prints on paper exactly as seen, and stays small (no 4 MB of JavaScript).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime


def render_session_report(
    title: str,
    summary: Sequence[tuple[str, str]],
    images: Mapping[str, bytes],
    *,
    notes: str = "",
    markers: Sequence[tuple[str, str]] = (),
    synthetic: bool = False,
    footnotes: Sequence[str] = (),
) -> str:
    """HTML text of the report. ``summary`` rows are (metric, formatted value) pairs."""
    esc = html.escape
    badge = ('<p class="synthetic">SYNTHETIC DATA &mdash; generated for demonstration, '
             "not a recording of a person.</p>") if synthetic else ""
    rows = "\n".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary)
    figures = "\n".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{esc(name)}</figcaption></figure>'
        for name, png in images.items()
    )
    marker_rows = "\n".join(f"<li>{esc(t)} &mdash; {esc(label)}</li>" for t, label in markers)
    notes_html = f"<h2>Notes</h2><p>{esc(notes)}</p>" if notes else ""
    markers_html = f"<h2>Task segments and markers</h2><ul>{marker_rows}</ul>" if markers else ""
    foot = "".join(f"<p class='foot'>{esc(f)}</p>" for f in footnotes)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 960px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 4px 10px; }}
th {{ text-align: left; background: #f4f4f4; }} img {{ max-width: 100%; }}
.synthetic {{ background: #fff3cd; border: 1px solid #e0b000; padding: 6px; font-weight: bold; }}
.foot {{ font-size: 0.85em; color: #555; }}
@media print {{ figure {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>{esc(title)}</h1>
{badge}
<h2>Summary</h2>
<table>
{rows}
</table>
{notes_html}
{markers_html}
<h2>Charts</h2>
{figures}
{foot}
<p class="foot">Generated {made} by fer-monitor. Expression shares are the model's predictions
on frames with a face in view; they describe the recording, not a diagnosis.</p>
</body></html>
"""
