"""Plotly figures of the dashboard, and PNG rendering of the same figures without a browser.

Figures are built only from aggregated tables (fer_core.analytics output), never from raw frames,
so a chart carries at most a few thousand points. PNG downloads are drawn with matplotlib from
the figure's own traces (kaleido would need a Chrome it controls; matplotlib is always there and
offline), so the PNG shows exactly the data of the on-screen chart.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer_core.analytics import CLASSES, NO_FACE, PROB_COLUMNS, VALENCE_LABEL

#: Up to this many sessions (or days), per-session charts are bars on a categorical axis: a
#: stacked area needs two points to show anything, and a time axis around one point zooms into
#: milliseconds.
FEW_POINTS = 20
COLORS: dict[str, str] = {
    "angry": "#d62728", "disgust": "#8c6d31", "fear": "#9467bd", "happy": "#e6b800",
    "sad": "#1f77b4", "surprise": "#ff7f0e", "neutral": "#7f7f7f", NO_FACE: "#d9d9d9",
}
HEIGHT = 340


def _layout(fig: go.Figure, title: str, y_title: str = "", x_title: str = "") -> go.Figure:
    # legend to the right of the plot: below it, it collided with the x-axis title.
    # No plotly template: Streamlit's own theme styles the chart in the browser, and setting
    # "plotly_white" validated and deep-copied a whole template per figure (a third of the
    # Session summary's script time, issue 19) and sent it with every chart.
    fig.update_layout(
        title=title, height=HEIGHT, margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"},
        # nested dicts, not yaxis_title=...: plotly parses "magic underscore" paths slowly
        yaxis={"title": {"text": y_title}}, xaxis={"title": {"text": x_title}},
    )
    return fig


def point_labels(values) -> list[str]:
    """Readable, unique category labels for sessions or days (times to the minute)."""
    out: list[str] = []
    for v in values:
        ts = pd.Timestamp(v) if not isinstance(v, str) else None
        text = str(v) if ts is None or pd.isna(ts) else (
            ts.strftime("%Y-%m-%d %H:%M") if (ts.hour, ts.minute, ts.second) != (0, 0, 0)
            or isinstance(v, pd.Timestamp) else ts.strftime("%Y-%m-%d"))
        while text in out:  # two sessions in the same minute stay two bars
            text += " "
        out.append(text)
    return out


def min_time_span(fig: go.Figure, values, span: pd.Timedelta) -> None:
    """Widen a time x axis to at least ``span`` around its data, so one point (or a very short
    recording) gets sensible ticks instead of milliseconds; the PNG uses the same range."""
    times = pd.Series(list(values))
    if not pd.api.types.is_datetime64_any_dtype(times):
        times = pd.to_datetime(times, errors="coerce")
    times = times.dropna()
    if times.empty:
        return
    lo, hi = times.min(), times.max()
    if hi - lo >= span:
        return
    mid = lo + (hi - lo) / 2
    fig.update_xaxes(range=[mid - span / 2, mid + span / 2])


def shares_bar(shares: pd.Series, title: str = "Share of time per expression") -> go.Figure:
    """Bar per class of the time share (percent of frames with a face)."""
    fig = go.Figure(go.Bar(
        x=list(CLASSES), y=[100 * float(shares[c]) for c in CLASSES],
        marker_color=[COLORS[c] for c in CLASSES], name="share",
        text=[f"{100 * float(shares[c]):.0f}%" for c in CLASSES], textposition="outside",
    ))
    return _layout(fig, title, "% of time with a face in view")


def _points(values) -> tuple[list, bool]:
    """x values of a per-session/per-day chart: category labels when there are few."""
    values = list(values)
    if len(values) <= FEW_POINTS:
        return point_labels(values), True
    return values, False


def stacked_shares(table: pd.DataFrame, x: str, title: str, x_title: str) -> go.Figure:
    """Class shares per session or day (each sums to 100%): stacked bars for a few, stacked
    area for many."""
    xs, few = _points(table[x])
    fig = go.Figure()
    for c in CLASSES:
        if few:
            fig.add_trace(go.Bar(x=xs, y=100 * table[c], name=c, marker_color=COLORS[c]))
        else:
            fig.add_trace(go.Scatter(x=xs, y=100 * table[c], name=c, mode="lines",
                                     stackgroup="shares",
                                     line={"color": COLORS[c], "width": 0.5}))
    if few:
        fig.update_layout(barmode="stack")
        fig.update_xaxes(type="category")
    return _layout(fig, title, "% of time with a face in view", x_title)


def class_lines(table: pd.DataFrame, x: str, title: str, x_title: str) -> go.Figure:
    """One line per class of its share across sessions or days."""
    xs, few = _points(table[x])
    fig = go.Figure()
    for c in CLASSES:
        fig.add_trace(go.Scatter(x=xs, y=100 * table[c], name=c, mode="lines+markers",
                                 line={"color": COLORS[c]}))
    if few:
        fig.update_xaxes(type="category")
    return _layout(fig, title, "% of time with a face in view", x_title)


def valence_line(x, y, title: str = VALENCE_LABEL, x_title: str = "") -> go.Figure:
    """Derived valence per session or day, on a fixed -1..1 axis so sessions compare honestly."""
    xs, few = _points(x)
    fig = go.Figure(go.Scatter(x=xs, y=list(y), mode="lines+markers", name="valence (derived)",
                               line={"color": "#2ca02c"}))
    fig.add_hline(y=0, line_dash="dot", line_color="#999999")
    fig.update_yaxes(range=[-1, 1])
    if few:
        fig.update_xaxes(type="category")
    return _layout(fig, title, "derived valence (-1 .. +1)", x_title)


def baseline_trend(names: list[str], values, baseline, is_baseline, title: str,
                   y_title: str, percent: bool = True) -> go.Figure:
    """A metric per session beside the baseline it is read against (dashed), the chosen
    baseline sessions drawn as open diamonds. ``names``: one display name per session."""
    scale = 100.0 if percent else 1.0
    xs, few = _points(names)
    ys = [scale * float(v) for v in values]
    base = [None if pd.isna(v) else scale * float(v) for v in baseline]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", name="this session",
                               line={"color": "#1f77b4"}))
    fig.add_trace(go.Scatter(x=xs, y=base, mode="lines", name="baseline",
                             line={"color": "#555555", "dash": "dash"}))
    chosen = [i for i, b in enumerate(is_baseline) if b]
    if chosen:
        fig.add_trace(go.Scatter(x=[xs[i] for i in chosen], y=[ys[i] for i in chosen],
                                 mode="markers", name="chosen baseline session",
                                 marker={"symbol": "diamond-open", "size": 13,
                                         "color": "#555555"}))
    if not percent:  # valence: the fixed -1..1 axis of every valence chart
        fig.add_hline(y=0, line_dash="dot", line_color="#999999")
        fig.update_yaxes(range=[-1, 1])
    if few:
        fig.update_xaxes(type="category")
    return _layout(fig, title, y_title, "session")


def heatmap(table: pd.DataFrame, title: str = "Time of day x expression",
            tz: str = "UTC") -> go.Figure:
    """Hour-of-day (rows, in ``tz``, named on the axis) by class (columns) shares, in percent."""
    fig = go.Figure(go.Heatmap(
        z=100 * table[list(CLASSES)].to_numpy(), x=list(CLASSES),
        y=[f"{int(h):02d}:00" for h in table.index], colorscale="Blues",
        colorbar={"title": "%"}, zmin=0, zmax=100, name="share",
    ))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, f"hour of day ({tz})")


def probability_timeline(tl: pd.DataFrame, segments: list | None = None,
                         title: str = "Class probabilities over time") -> go.Figure:
    """The seven probabilities over time; gaps where no face was in view; task segments."""
    fig = go.Figure()
    for c, col in zip(CLASSES, PROB_COLUMNS, strict=True):
        fig.add_trace(go.Scatter(x=tl["timestamp"], y=tl[col], name=c, mode="lines",
                                 line={"color": COLORS[c], "width": 1.4}, connectgaps=False))
    add_segments(fig, segments, tl["timestamp"])
    fig.update_yaxes(range=[0, 1])
    min_time_span(fig, tl["timestamp"], pd.Timedelta(seconds=10))
    return _layout(fig, title, "probability")


def shares_area(tl: pd.DataFrame, segments: list | None = None,
                title: str = "Expressions over time") -> go.Figure:
    """The (smoothed) probabilities stacked to 100% over time: readable at 6 and at 60 minutes.

    Why not one line per class: seven crossing lines over minutes of data are a tangle (issue
    19); stacked, the thickest band is the dominant expression and a change of band width is a
    change of expression. No-face rows (NaN) count as zero, so a gap is a white hole, not a
    band bridged across it.
    """
    fig = go.Figure()
    for c, col in zip(CLASSES, PROB_COLUMNS, strict=True):
        fig.add_trace(go.Scatter(x=tl["timestamp"], y=100 * tl[col], name=c, mode="lines",
                                 stackgroup="probabilities", stackgaps="infer zero",
                                 line={"color": COLORS[c], "width": 0.5},
                                 fillcolor=COLORS[c]))
    add_segments(fig, segments, tl["timestamp"])
    fig.update_yaxes(range=[0, 100])
    min_time_span(fig, tl["timestamp"], pd.Timedelta(seconds=10))
    return _layout(fig, title, "% (stacked probabilities)")


#: Left and right margins (px) of every chart on a session's time axis: with the same margins,
#: the same x range and the legends below the plots (a legend on the right takes a width that
#: depends on its labels), the plot areas line up and one moment sits at one x on every chart.
TIME_MARGIN = {"l": 70, "r": 30}
TIME_LEGEND = {"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "bottom",
               "yref": "container"}


def time_range(times, ends=None, min_span_s: float = 10.0) -> list:
    """[first, last] over ``times`` (and ``ends``: e.g. the ethogram's segment ends), widened
    around its middle to at least ``min_span_s`` seconds like :func:`min_time_span`."""
    values = pd.concat([pd.Series(list(times)), pd.Series(list(ends if ends is not None
                                                               else []))], ignore_index=True)
    values = pd.to_datetime(values, errors="coerce").dropna()
    if values.empty:
        return []
    lo, hi = values.min(), values.max()
    min_span = pd.Timedelta(seconds=min_span_s)
    if hi - lo < min_span:
        mid = lo + (hi - lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    return [lo, hi]


def align_time_axes(figs: list[go.Figure], x_range: list) -> None:
    """Give the charts of one session's time axis the same x range, margins and legend place."""
    for fig in figs:
        if x_range:
            fig.update_xaxes(range=list(x_range), type="date")
        fig.update_yaxes(automargin=False)
        fig.update_layout(margin={**TIME_MARGIN, "b": 80}, legend=TIME_LEGEND)


def live_probabilities(table: pd.DataFrame) -> go.Figure:
    """The Record page's rolling chart: ``seconds`` (0 = now) and one column per class, NaN
    where no face was in view, so the lines break there instead of bridging the gap."""
    fig = go.Figure()
    for c in CLASSES:
        fig.add_trace(go.Scatter(x=table["seconds"], y=table[c], name=c, mode="lines",
                                 line={"color": COLORS[c], "width": 1.4}, connectgaps=False))
    fig.update_yaxes(range=[0, 1])
    fig = _layout(fig, "", "probability", "seconds (0 = now)")
    fig.update_layout(height=240, margin={"t": 10})
    return fig


def live_bars(bars: pd.DataFrame) -> go.Figure:
    """The Record page's bars of the current face (``class``, ``probability``), top to bottom
    in FER2013 order like every other chart (``st.bar_chart`` sorted them alphabetically)."""
    fig = go.Figure(go.Bar(x=bars["probability"], y=bars["class"], orientation="h",
                           marker={"color": [COLORS[c] for c in bars["class"]]},
                           name="probability"))
    fig.update_yaxes(categoryorder="array", categoryarray=list(bars["class"]),
                     autorange="reversed")
    fig.update_xaxes(range=[0, 1])
    fig = _layout(fig, "", "", "probability")
    fig.update_layout(height=220, margin={"t": 10}, showlegend=False)
    return fig


def valence_timeline(tl: pd.DataFrame, segments: list | None = None) -> go.Figure:
    """Derived valence within one session (a time axis, gaps where no face was in view)."""
    fig = go.Figure(go.Scatter(x=tl["timestamp"], y=tl["valence"], mode="lines",
                               name="valence (derived)", line={"color": "#2ca02c"},
                               connectgaps=False))
    fig.add_hline(y=0, line_dash="dot", line_color="#999999")
    fig.update_yaxes(range=[-1, 1])
    add_segments(fig, segments, tl["timestamp"])
    min_time_span(fig, tl["timestamp"], pd.Timedelta(seconds=10))
    return _layout(fig, VALENCE_LABEL, "derived valence (-1 .. +1)")


#: Fill of a segment's interval on time charts (a light blue that no expression colour uses).
SEGMENT_FILL = "#4c78a8"


def add_segments(fig: go.Figure, segments: list | None, times: pd.Series | None = None) -> None:
    """Task segments on a time chart, in the zone of ``times`` (the chart's own x values): a
    shaded band from start to end, a dashed line for a point; the label above either.

    Takes :class:`~fer_core.logstore.meta.Segment` objects or the version-1
    :class:`~fer_core.logstore.meta.Marker` view (points at ``timestamp``). All shapes and
    labels are added in one layout update: ``add_vline``/``add_vrect`` per segment re-validate
    and deep-copy the layout each time (0.3 s for 7 markers on two charts, issue 19).
    """
    tz = times.dt.tz if times is not None and hasattr(times, "dt") else None

    def zoned(value) -> pd.Timestamp:
        ts = pd.Timestamp(value)
        return ts.tz_convert(tz) if tz is not None else ts

    shapes, notes = [], []
    for seg in segments or []:
        start = zoned(seg.start if hasattr(seg, "start") else seg.timestamp)
        end = getattr(seg, "end", None)
        if end is None:
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": start,
                           "x1": start, "y0": 0, "y1": 1,
                           "line": {"dash": "dash", "color": "#444444"}})
        else:
            # above the traces: the stacked area and the ethogram are opaque, a band below
            # them would be hidden; light enough to read the colours through, edges drawn
            shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": start,
                           "x1": zoned(end), "y0": 0, "y1": 1, "fillcolor": SEGMENT_FILL,
                           "opacity": 0.25, "line": {"width": 1.5, "color": SEGMENT_FILL},
                           "layer": "above"})
        # plotly renders a subset of HTML (links, <b>, ...) in annotations: escape typed text
        notes.append({"x": start, "y": 1.0, "yref": "paper", "yanchor": "bottom",
                      "xanchor": "left", "text": html.escape(seg.label), "showarrow": False,
                      "font": {"size": 10}})
    if shapes:
        fig.update_layout(shapes=[*fig.layout.shapes, *shapes],
                          annotations=[*fig.layout.annotations, *notes])



def ethogram(segments: pd.DataFrame, title: str = "Ethogram: dominant expression",
             task_segments: list | None = None) -> go.Figure:
    """Horizontal band coloured by the dominant expression over time (``segments``: its runs);
    ``task_segments``: the session's task segments, drawn as on the other time charts."""
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
    if task_segments:
        add_segments(fig, task_segments, segments["start"] if len(segments) else None)
    fig.update_yaxes(showticklabels=False)
    fig = _layout(fig, title)
    # the legend in one row under the plot: on the right, 8 entries were taller than the band
    # and Streamlit clipped them behind a scrollbar ("neutral" and "no face" hidden)
    fig.update_layout(height=240, margin={**TIME_MARGIN, "t": 50, "b": 80}, legend=TIME_LEGEND)
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
    # a negative duration (an end recorded before the start: a damaged session) is drawn as
    # the smallest marker; Plotly refuses negative sizes
    length = data["duration_s"].fillna(0).clip(lower=0)
    fig = go.Figure(go.Scatter(
        x=data["started_at"], y=data["subject"], mode="markers", name="sessions",
        marker={"size": 6 + 14 * (length / max(float(length.max() or 1), 1.0)),
            "color": 100 * data["negative_share"].fillna(0), "colorscale": "Reds",
            "cmin": 0, "cmax": 100, "showscale": True, "colorbar": {"title": "neg. %"}},
        # sessions by their label and start time (the x position), never the UTC id
        hovertext=[f"{html.escape(str(lab or 'unlabelled'))} · {pd.Timestamp(t):%Y-%m-%d %H:%M}"
                   f": {100 * (v if v == v else 0):.0f}% negative affect"
                   for lab, t, v in zip(data.get("label", pd.Series("", index=data.index)),
                                        data["started_at"], data["negative_share"],
                                        strict=True)],
    ))
    min_time_span(fig, data["started_at"], pd.Timedelta(days=2))
    return _layout(fig, "Sessions over time (colour: negative-affect share; size: length)")


# ---- PNG --------------------------------------------------------------------------------------

def _wall_time(values) -> np.ndarray:
    """Datetimes as plotly draws them: the wall-clock time of their own zone, zone dropped."""
    index = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(values))))
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.to_numpy()


def _xvalues(values, categorical: bool = False) -> np.ndarray:
    arr = np.asarray(values if values is not None else [], dtype=object)
    if categorical:
        return arr.astype(str)
    if len(arr) and all(isinstance(v, str) for v in arr):
        try:  # ISO strings from a figure that went through JSON
            return _wall_time(arr)
        except (ValueError, TypeError):
            return arr.astype(str)
    if len(arr) and any(isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "tzinfo")
                        for v in arr):
        return _wall_time(arr)
    return np.asarray(values if values is not None else [])


#: A span drawn on a time chart's PNG: (start, end or None for a point marker, label). Times
#: in the zone of the chart's own x values (the display zone: charts draw wall-clock time).
Span = tuple[Any, Any, str]


def _draw_spans(ax, spans: Sequence[Span]) -> None:
    """Segments as shaded bands and point markers as dashed lines, labelled above the plot.

    Only what lies on the chart's own time range is drawn, and the range stays as it was: a
    span outside it would otherwise stretch the axis (or, labelled, the image) to reach it.
    """
    lo, hi = ax.get_xlim()
    for start, end, label in spans:
        x0 = matplotlib.dates.date2num(_wall_time([start])[0])
        x1 = (x0 if end is None or pd.isna(end)
              else matplotlib.dates.date2num(_wall_time([end])[0]))
        if x1 < lo or x0 > hi:
            continue
        if x1 > x0:
            ax.axvspan(max(x0, lo), min(x1, hi), color="#444444", alpha=0.12, linewidth=0)
        if x0 >= lo:
            ax.axvline(x0, color="#444444", linestyle="--", linewidth=0.9)
            # inside the plot's top edge: above it, a label ran into the chart's title
            ax.annotate(label, (x0, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                        textcoords="offset points", fontsize=7, va="top",
                        bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                              "alpha": 0.8})
    ax.set_xlim(lo, hi)


def figure_png(fig: go.Figure, width_in: float = 9.0, height_in: float = 3.6, *,
               spans: Sequence[Span] = ()) -> bytes:
    """Render the figure's scatter, bar and heatmap traces with matplotlib; returns PNG bytes.

    ``spans``: segments and markers to draw on a time axis (the printable report's charts;
    plotly's own marker lines are shapes this renderer does not read). Ignored by a chart
    without a time axis (bars per class, matrices).
    """
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
                starts = pd.to_datetime(_wall_time(tr.base))
                widths = pd.to_timedelta(np.asarray(tr.x, dtype=float), unit="ms")
                ax.broken_barh(list(zip(matplotlib.dates.date2num(starts),
                                        widths / pd.Timedelta(days=1), strict=True)),
                               (0, 1), color=tr.marker.color, label=name)
                ax.xaxis_date()
                ax.set_yticks([])
            elif tr.type == "bar":
                x = [str(v) for v in tr.x]
                y = np.nan_to_num(np.asarray(tr.y, dtype=float))
                if fig.layout.barmode == "stack":
                    base = stacks.get("bars", np.zeros(len(y)))
                    ax.bar(np.arange(len(x)), y, width=0.8, bottom=base, label=name,
                           color=tr.marker.color)
                    stacks["bars"] = base + y
                else:
                    offset = {"A": -0.2, "B": 0.2}.get(name, 0) if len(fig.data) > 1 else 0
                    ax.bar(np.arange(len(x)) + offset, y, width=0.4 if offset else 0.8,
                           label=name, color=tr.marker.color)
                ax.set_xticks(np.arange(len(x)), x, rotation=30 if len(x) > 3 else 0,
                              ha="right" if len(x) > 3 else "center")
            elif tr.type == "scatter":
                x = _xvalues(tr.x, categorical=fig.layout.xaxis.type == "category")
                y = np.asarray(tr.y if tr.y is not None else [], dtype=object)
                if len(y) and all(isinstance(v, str) for v in y):  # a category axis (subjects)
                    ax.scatter(x, y.astype(str), s=30, label=name,
                               c=np.asarray(tr.marker.color, dtype=float)
                               if tr.marker.color is not None and not isinstance(
                                   tr.marker.color, str) else None,
                               cmap="Reds", vmin=0, vmax=100)
                    continue
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
        drawn = _draw_segment_shapes(ax, fig)  # the page's own segment shapes, when it has them
        # segment labels sit just above the plot: the title goes above them
        ax.set_title(str(fig.layout.title.text or ""), fontsize=10, pad=16 if drawn else 6)
        if fig.layout.yaxis.title.text:
            ax.set_ylabel(str(fig.layout.yaxis.title.text), fontsize=8)
        if fig.layout.xaxis.title.text:
            ax.set_xlabel(str(fig.layout.xaxis.title.text), fontsize=8)
        if len(fig.data) > 1 and any(t.type != "heatmap" for t in fig.data):
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        if fig.layout.xaxis.range and fig.layout.xaxis.type != "category":
            lo, hi = _wall_time(fig.layout.xaxis.range)  # the range the screen shows
            ax.set_xlim(lo, hi)
        time_axis = any(_xvalues(t.x).dtype.kind == "M" for t in fig.data if t.type == "scatter")
        if spans and not drawn and (time_axis or any(t.type == "bar" and t.orientation == "h"
                                       for t in fig.data)):
            _draw_spans(ax, spans)
        if time_axis:
            mfig.autofmt_xdate()
        buf = io.BytesIO()
        mfig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(mfig)


def _draw_segment_shapes(ax, fig: go.Figure) -> bool:
    """The task segments of :func:`add_segments` in the PNG: bands and dashed lines, labels.
    True when the figure had any (then the report's ``spans`` are not drawn a second time)."""
    drawn = False
    try:
        for shape in fig.layout.shapes or ():
            if shape.xref != "x" or shape.x0 is None:
                continue
            x0 = _wall_time([shape.x0])[0]
            if shape.type == "rect":
                ax.axvspan(x0, _wall_time([shape.x1])[0], color=SEGMENT_FILL, alpha=0.15, lw=0)
                drawn = True
            elif shape.type == "line" and shape.x0 == shape.x1:
                ax.axvline(x0, color="#444444", linestyle="--", linewidth=0.8)
                drawn = True
        for note in fig.layout.annotations or ():
            if note.yref == "paper" and note.x is not None and note.text:
                ax.annotate(html.unescape(str(note.text)), (_wall_time([note.x])[0], 1.0),
                            xycoords=("data", "axes fraction"), fontsize=7, va="bottom")
    except (ValueError, TypeError):  # not a time axis: the chart has no segments to draw
        return drawn
    return drawn
