"""The reader's guide: what each chart shows, what its colours mean, and the glossary.

Why one module: the same words appear under every chart, on the Glossary page and in
docs/dashboard.md. Kept here once, the app reads them and a test checks that the docs hold
exactly :func:`markdown` (``tests/test_glossary.py``), so the three never drift apart.
Plain text only (no user input): the app may render it as Markdown.
"""

from __future__ import annotations

from fer_core.analytics import CLASSES, NO_FACE

#: The colour of each expression (dashboard.charts.COLORS) in words, for captions.
COLOUR_NAMES: dict[str, str] = {
    "angry": "red", "disgust": "brown", "fear": "purple", "happy": "yellow", "sad": "blue",
    "surprise": "orange", "neutral": "grey", NO_FACE: "light grey",
}
EXPRESSION_COLOURS = "Colours: " + ", ".join(
    f"{c} {COLOUR_NAMES[c]}" for c in [*CLASSES, NO_FACE]) + "."
EXPRESSION_COLOURS_FACE = "Colours: " + ", ".join(
    f"{c} {COLOUR_NAMES[c]}" for c in CLASSES) + "."

#: Term -> definition. The terms a first-time reader of the charts asked about (issue 19).
GLOSSARY: dict[str, str] = {
    "Ethogram": (
        "A band that shows, moment by moment, which expression dominated (or that no face was "
        "in view). With smoothing, frames are grouped into bins of half the smoothing window "
        "and each bin takes the expression that covered most of its face time; a bin is 'no "
        "face' only when the face was absent for most of it, and that block is cut to the real "
        "gap, so it is never longer than the gap in the timeline above."),
    "Valence": (
        "A derived estimate of how pleasant the expression looks, from -1 (unpleasant) to +1 "
        "(pleasant). The model does not measure it: it is the probability-weighted sum of fixed "
        "weights per expression (happy +1.0, surprise +0.2, neutral 0, angry -0.8, sad -0.8, "
        "fear -0.7, disgust -0.7). Use it as a summary of the seven probabilities, not as a "
        "measurement of feeling."),
    "Transitions": (
        "How often the predicted expression changed from one to another between consecutive "
        "frames with a face. Leaving the view is not a change, and runs shorter than 0.1 s are "
        "treated as model flicker and removed before counting."),
    "Confidence": (
        "The model's probability for the expression it predicted in a frame (0 to 1). Mean "
        "confidence is its time-weighted mean over the frames with a face; a low value means "
        "the model often hesitated between expressions, so the shares are less certain."),
    "Time weighting": (
        "Every share, mean and duration counts the time each frame covers (up to the next "
        "frame, at most 2 s), never the number of frames: frames without a face are processed "
        "faster, so counting frames would over-count the time without a face."),
    "Segments": (
        "Labelled stretches of a session (a task, a stimulus, an interview part) with a start "
        "and an optional end; a segment without an end is a point marker. Figures can be "
        "computed per segment and the same label compared across sessions."),
    "Quality": (
        "How trustworthy a recording is: frames processed per second, frames dropped, time with "
        "a face in view, the face's size and lighting, and the share of low-confidence frames. "
        "A session with poor quality is marked 'use with care'."),
    "Face in view": (
        "The share of recorded time in which a face was found. Expression shares are computed "
        "over this time only."),
    "Negative affect": (
        "The angry, disgust, fear and sad shares added together, as a share of the time a face "
        "was in view."),
    "Smoothing": (
        "A centred moving average of the probabilities over the chosen window (seconds); 0 "
        "shows the raw per-frame values. It removes frame-to-frame noise, not real changes that "
        "last longer than the window."),
}

#: One line under each chart: how to read it and what its colours mean. Keyed on the chart's
#: widget key as passed to :func:`dashboard.ui.chart`.
CHART_GUIDES: dict[str, str] = {
    "overview.sessions": (
        "Each dot is a session: its row is the subject, its place the start time, its size the "
        "length. Colour: the negative-affect share, white (none) to dark red (all of the face "
        "time)."),
    "history.shares": (
        "Each bar is the share of the face-in-view time an expression was predicted over the "
        "chosen period; the bars add up to 100%. " + EXPRESSION_COLOURS_FACE),
    "history.stacked": (
        "Each column (or band) is one session or day, split into the share of each expression; "
        "a growing band means that expression took more of the time. " + EXPRESSION_COLOURS_FACE),
    "history.lines": (
        "One line per expression: its share of the face time per session or day, to follow one "
        "expression at a time. " + EXPRESSION_COLOURS_FACE),
    "history.valence": (
        "The mean derived valence per session or day, -1 (unpleasant) to +1 (pleasant); the "
        "dotted line is 0. Green line: the estimate (see Valence in the Glossary)."),
    "history.heatmap": (
        "Rows are hours of the day, columns expressions; the darker the blue, the larger that "
        "expression's share of the face time in that hour."),
    "session.expressions-over-time": (
        "The smoothed probabilities stacked to 100% over time: the thickest band is the "
        "expression the model saw most at that moment; white gaps are times without a face; "
        "shaded bands are task segments and dashed lines point markers. "
        + EXPRESSION_COLOURS_FACE),
    "session.probabilities--raw": (
        "One line per expression: the model's probability frame by frame (or averaged in short "
        "bins for long sessions); gaps are times without a face. " + EXPRESSION_COLOURS_FACE),
    "session.ethogram": (
        "The dominant expression at each moment, on the same time axis as the charts above; "
        "'no face' marks times the face was out of view. " + EXPRESSION_COLOURS),
    "session.valence--derived-estimate": (
        "The derived valence over time, -1 (unpleasant) to +1 (pleasant), smoothed like the "
        "chart above; the dotted line is 0, gaps are times without a face."),
    "session.share-of-time-per-expression": (
        "Each bar is the share of this session's face-in-view time an expression was "
        "predicted; the bars add up to 100%. " + EXPRESSION_COLOURS_FACE),
    "session.transitions": (
        "Each cell counts changes from the row's expression to the column's; the darker the "
        "orange, the more often. Flickers shorter than 0.1 s are not counted."),
    "session.quality_fps": (
        "Frames analysed per second in 5-s bins; the dashed line is the rate under which a "
        "stretch is flagged (too few frames for steady figures)."),
    "session.quality_face": (
        "Share of each 5-s bin with a face in view; the dashed line is the share under which a "
        "stretch is flagged as 'no face'."),
    "history.baseline.negative_share": (
        "One dot per session: its negative-affect share; the dashed line is the baseline in use "
        "(chosen sessions, open diamonds, or the mean of earlier sessions)."),
    "history.baseline.mean_valence": (
        "One dot per session: its mean derived valence (-1 .. +1); the dashed line is the "
        "baseline in use (chosen sessions, open diamonds, or the mean of earlier sessions)."),
    "history.segment_stacked": (
        "Each column is one session's time inside the chosen segment label, split into the "
        "share of each expression (segments with that label in one session pooled). "
        + EXPRESSION_COLOURS_FACE),
    "history.segment_lines": (
        "One line per expression: its share of the face time inside the chosen segment label, "
        "session by session. " + EXPRESSION_COLOURS_FACE),
    "compare.segment_stacked": (
        "Each column is one session's time inside the chosen segment label, split into the "
        "share of each expression (segments with that label in one session pooled). "
        + EXPRESSION_COLOURS_FACE),
    "compare.segment_lines": (
        "One line per expression: its share of the face time inside the chosen segment label, "
        "session by session. " + EXPRESSION_COLOURS_FACE),
    "compare.bars": (
        "Blue bars are A, orange bars are B: the share of the face-in-view time of each "
        "expression, side by side."),
}


def chart_guide(key: str) -> str | None:
    """The one-line guide of the chart with widget key ``key`` (None if it has none)."""
    return CHART_GUIDES.get(key)


def markdown() -> str:
    """The glossary as Markdown, exactly as docs/dashboard.md holds it under "Glossary"."""
    return "\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY.items()) + "\n"
