"""Plotly figures of the dashboard, and PNG rendering of the same figures without a browser.

Figures are built only from aggregated tables (fer_core.analytics output), never from raw frames,
so a chart carries at most a few thousand points. PNG downloads are drawn with matplotlib from
the figure's own traces (kaleido would need a Chrome it controls; matplotlib is always there and
offline), so the PNG shows exactly the data of the on-screen chart.
"""

from __future__ import annotations

import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer_core.analytics import CLASSES, NO_FACE, PROB_COLUMNS, VALENCE_LABEL

COLORS: dict[str, str] = {
    "angry": "#d62728", "disgust": "#8c6d31", "fear": "#9467bd", "happy": "#e6b800",
    "sad": "#1f77b4", "surprise": "#ff7f0e", "neutral": "#7f7f7f", NO_FACE: "#d9d9d9",
}
HEIGHT = 340


def _layout(fig: go.Figure, title: str, y_title: str = "", x_title: str = "") -> go.Figure:
    fig.update_layout(
        title=title, height=HEIGHT, margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2}, yaxis_title=y_title, xaxis_title=x_title,
        template="plotly_white",
    )
    return fig


def shares_bar(shares: pd.Series, title: str = "Share of time per expression") -> go.Figure:
    """Bar per class of the time share (percent of frames with a face)."""
    fig = go.Figure(go.Bar(
        x=list(CLASSES), y=[100 * float(shares[c]) for c in CLASSES],
        marker_color=[COLORS[c] for c in CLASSES], name="share",
        text=[f"{100 * float(shares[c]):.0f}%" for c in CLASSES], textposition="outside",
    ))
    return _layout(fig, title, "% of time with a face in view")


def stacked_shares(table: pd.DataFrame, x: str, title: str, x_title: str) -> go.Figure:
    """Stacked area of class shares (each x sums to 100%)."""
    fig = go.Figure()
    for c in CLASSES:
        fig.add_trace(go.Scatter(x=table[x], y=100 * table[c], name=c, mode="lines",
                                 stackgroup="shares", line={"color": COLORS[c], "width": 0.5}))
    return _layout(fig, title, "% of time with a face in view", x_title)


def class_lines(table: pd.DataFrame, x: str, title: str, x_title: str) -> go.Figure:
    """One line per class of its share across sessions or days."""
    fig = go.Figure()
    for c in CLASSES:
        fig.add_trace(go.Scatter(x=table[x], y=100 * table[c], name=c, mode="lines+markers",
                                 line={"color": COLORS[c]}))
    return _layout(fig, title, "% of time with a face in view", x_title)


def valence_line(x, y, title: str = VALENCE_LABEL, x_title: str = "") -> go.Figure:
    """Derived valence over time, on a fixed -1..1 axis so sessions compare honestly."""
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name="valence (derived)",
                               line={"color": "#2ca02c"}))
    fig.add_hline(y=0, line_dash="dot", line_color="#999999")
    fig.update_yaxes(range=[-1, 1])
    return _layout(fig, title, "derived valence (-1 .. +1)", x_title)


def heatmap(table: pd.DataFrame, title: str = "Time of day x expression") -> go.Figure:
    """Hour-of-day (rows) by class (columns) shares, in percent."""
    fig = go.Figure(go.Heatmap(
        z=100 * table[list(CLASSES)].to_numpy(), x=list(CLASSES),
        y=[f"{int(h):02d}:00" for h in table.index], colorscale="Blues",
        colorbar={"title": "%"}, zmin=0, zmax=100, name="share",
    ))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "hour of day (local)")


def probability_timeline(tl: pd.DataFrame, markers: list | None = None,
                         title: str = "Class probabilities over time") -> go.Figure:
    """The seven probabilities over time; gaps where no face was in view; marker lines."""
    fig = go.Figure()
    for c, col in zip(CLASSES, PROB_COLUMNS, strict=True):
        fig.add_trace(go.Scatter(x=tl["timestamp"], y=tl[col], name=c, mode="lines",
                                 line={"color": COLORS[c], "width": 1.4}, connectgaps=False))
    _add_markers(fig, markers)
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, title, "probability")


def valence_timeline(tl: pd.DataFrame, markers: list | None = None) -> go.Figure:
    fig = valence_line(tl["timestamp"], tl["valence"])
    fig.update_traces(mode="lines")
    _add_markers(fig, markers)
    return fig


def _add_markers(fig: go.Figure, markers: list | None) -> None:
    for m in markers or []:
        ts = pd.Timestamp(m.timestamp)
        fig.add_vline(x=ts, line_dash="dash", line_color="#444444")
        # plotly renders a subset of HTML (links, <b>, ...) in annotations: escape typed text
        fig.add_annotation(x=ts, y=1.02, yref="paper", text=html.escape(m.label),
                           showarrow=False, font={"size": 10})


def ethogram(segments: pd.DataFrame, title: str = "Ethogram: dominant expression") -> go.Figure:
    """Horizontal band coloured by the dominant expression over time."""
    fig = go.Figure()
    for label in [*CLASSES, NO_FACE]:
        part = segments.loc[segments["label"] == label]
        if part.empty:
            continue
        fig.add_trace(go.Bar(
            y=["expression"] * len(part), x=part["duration_s"] * 1000, base=part["start"],
            orientation="h", name=label, marker_color=COLORS[label],
            hovertext=[f"{label}: {d:.1f} s" for d in part["duration_s"]], hoverinfo="text",
        ))
    fig.update_layout(barmode="overlay", bargap=0)
    fig.update_xaxes(type="date")
    fig.update_yaxes(showticklabels=False)
    fig = _layout(fig, title)
    fig.update_layout(height=240, margin={"b": 90}, legend={"y": -0.5})
    return fig


def transition_matrix(tr: pd.DataFrame, title: str = "Transitions between expressions"):
    """Counts of changes from one expression (rows) to another (columns)."""
    matrix = pd.DataFrame(0, index=list(CLASSES), columns=list(CLASSES))
    for r in tr.itertuples(index=False):
        matrix.loc[r[0], r[1]] = r[2]
    fig = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=list(CLASSES), y=list(CLASSES),
                               colorscale="Oranges", text=matrix.to_numpy(),
                               texttemplate="%{text}", name="transitions"))
    fig.update_yaxes(autorange="reversed", title="from")
    fig.update_xaxes(title="to")
    return _layout(fig, title, "from", "to")


def compare_bars(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> go.Figure:
    """Grouped bars of the class shares of A and B."""
    fig = go.Figure()
    for name, s, color in ((name_a, a, "#4c78a8"), (name_b, b, "#f58518")):
        fig.add_trace(go.Bar(x=list(CLASSES), y=[100 * s[f"share_{c}"] for c in CLASSES],
                             name=name, marker_color=color))
    fig.update_layout(barmode="group")
    return _layout(fig, "Share of time per expression: A vs B", "% of time with a face in view")


def sessions_scatter(sessions: pd.DataFrame, shares: pd.DataFrame) -> go.Figure:
    """Every session of every subject on a time axis, coloured by negative-affect share."""
    data = sessions.merge(shares, on=["subject", "session"], how="left")
    fig = go.Figure(go.Scatter(
        x=data["started_at"], y=data["subject"], mode="markers", name="sessions",
        marker={"size": 6 + 14 * (data["duration_s"].fillna(0) / max(
            float(data["duration_s"].max() or 1), 1.0)),
            "color": 100 * data["negative_share"].fillna(0), "colorscale": "Reds",
            "cmin": 0, "cmax": 100, "showscale": True, "colorbar": {"title": "neg. %"}},
        hovertext=[f"{s}: {100 * (v if v == v else 0):.0f}% negative affect"
                   for s, v in zip(data["session"], data["negative_share"], strict=True)],
    ))
    return _layout(fig, "Sessions over time (colour: negative-affect share; size: length)")


# ---- PNG --------------------------------------------------------------------------------------

def _xvalues(values) -> np.ndarray:
    arr = np.asarray(values if values is not None else [])
    if arr.dtype.kind in "OUSM" and len(arr):
        try:
            return pd.to_datetime(arr).to_numpy()
        except (ValueError, TypeError):
            return arr.astype(str)
    return arr


def figure_png(fig: go.Figure, width_in: float = 9.0, height_in: float = 3.6) -> bytes:
    """Render the figure's scatter, bar and heatmap traces with matplotlib; returns PNG bytes."""
    mfig, ax = plt.subplots(figsize=(width_in, height_in), dpi=110)
    stacks: dict[str, np.ndarray] = {}
    try:
        for tr in fig.data:
            name = tr.name or ""
            if tr.type == "heatmap":
                z = np.asarray(tr.z, dtype=float)
                im = ax.imshow(z, aspect="auto", cmap="Blues" if "share" in name else "Oranges")
                ax.set_xticks(range(len(tr.x)), list(tr.x), rotation=30)
                ax.set_yticks(range(len(tr.y)), list(tr.y))
                mfig.colorbar(im, ax=ax)
                if tr.text is not None and z.size <= 100:  # small matrices: print the counts
                    for (i, j), v in np.ndenumerate(np.asarray(tr.text)):
                        ax.text(j, i, str(v), ha="center", va="center", fontsize=7)
            elif tr.type == "bar" and tr.orientation == "h":
                starts = pd.to_datetime(np.asarray(tr.base))
                widths = pd.to_timedelta(np.asarray(tr.x, dtype=float), unit="ms")
                ax.broken_barh(list(zip(matplotlib.dates.date2num(starts),
                                        widths / pd.Timedelta(days=1), strict=True)),
                               (0, 1), color=tr.marker.color, label=name)
                ax.xaxis_date()
                ax.set_yticks([])
            elif tr.type == "bar":
                x = [str(v) for v in tr.x]
                offset = {"A": -0.2, "B": 0.2}.get(name, 0) if len(fig.data) > 1 else 0
                pos = np.arange(len(x)) + offset
                ax.bar(pos, np.asarray(tr.y, dtype=float), width=0.4 if offset else 0.8,
                       label=name, color=tr.marker.color)
                ax.set_xticks(np.arange(len(x)), x)
            elif tr.type == "scatter":
                x = _xvalues(tr.x)
                y = np.asarray(tr.y if tr.y is not None else [], dtype=object)
                y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype=float)
                color = tr.line.color if tr.line and tr.line.color else None
                if tr.stackgroup:
                    base = stacks.get(tr.stackgroup, np.zeros(len(y)))
                    ax.fill_between(x, base, base + np.nan_to_num(y), label=name, color=color)
                    stacks[tr.stackgroup] = base + np.nan_to_num(y)
                elif tr.mode and "lines" not in tr.mode:
                    ax.scatter(x, y, s=12, label=name)
                else:
                    ax.plot(x, y, label=name, color=color, linewidth=1.2)
        ax.set_title(str(fig.layout.title.text or ""), fontsize=10)
        if fig.layout.yaxis.title.text:
            ax.set_ylabel(str(fig.layout.yaxis.title.text), fontsize=8)
        if fig.layout.xaxis.title.text:
            ax.set_xlabel(str(fig.layout.xaxis.title.text), fontsize=8)
        if len(fig.data) > 1 and any(t.type != "heatmap" for t in fig.data):
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        if any(_xvalues(t.x).dtype.kind == "M" for t in fig.data if t.type == "scatter"):
            mfig.autofmt_xdate()
        buf = io.BytesIO()
        mfig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(mfig)
