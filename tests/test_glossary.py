"""The reader's guide (issue 19, item 5): one text for the app, the docs and every chart."""

from __future__ import annotations

import ast
from pathlib import Path

from dashboard import charts, glossary
from dashboard.ui import slug
from fer_core.analytics import NO_FACE

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_TERMS = ["Ethogram", "Valence", "Transitions", "Confidence", "Time weighting",
                  "Segments", "Quality"]


def test_the_glossary_defines_every_term_a_reader_asked_about():
    assert set(REQUIRED_TERMS) <= set(glossary.GLOSSARY)
    assert all(len(text) > 40 for text in glossary.GLOSSARY.values())


def test_docs_hold_the_glossary_exactly_as_the_app_shows_it():
    docs = (ROOT / "docs" / "dashboard.md").read_text()
    assert "## Glossary" in docs
    assert glossary.markdown() in docs  # the app's text, word for word
    for term in REQUIRED_TERMS:
        assert f"- **{term}**: " in docs, term


def _chart_keys() -> set[str]:
    """The widget keys of every ``ui.chart(...)`` call in the pages (literal keys; the session
    page builds ``session.<slug of the figure name>`` from its ``figs`` dict)."""
    keys: set[str] = set()
    for path in (ROOT / "dashboard" / "pages").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "chart" and len(node.args) >= 3
                    and isinstance(node.args[2], ast.Constant)):
                keys.add(node.args[2].value)
            if path.stem != "session":
                continue
            # figs = {...}, figs |= {...} and figs["name"] = ...: the session page's charts
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, ast.AugAssign) else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "figs" and isinstance(
                        node.value, ast.Dict):
                    keys |= {f"session.{slug(k.value)}" for k in node.value.keys
                             if isinstance(k, ast.Constant)}
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id == "figs" and isinstance(target.slice, ast.Constant)):
                    keys.add(f"session.{slug(target.slice.value)}")
    return keys


def test_every_chart_of_the_review_pages_has_a_guide():
    keys = _chart_keys()
    assert {"overview.sessions", "history.heatmap", "session.ethogram", "compare.bars",
            "session.expressions-over-time", "session.probabilities--raw"} <= keys
    # keys built at run time: the quality charts, the baseline trends, a segment label's charts
    keys |= {"session.quality_fps", "session.quality_face", "history.baseline.negative_share",
             "history.baseline.mean_valence", *(f"{page}.segment_{kind}" for page in
                                                ("history", "compare")
                                                for kind in ("stacked", "lines"))}
    missing = sorted(k for k in keys if glossary.chart_guide(k) is None)
    assert missing == []


def test_colour_words_name_every_chart_colour():
    assert set(glossary.COLOUR_NAMES) == set(charts.COLORS)
    assert "neutral grey" in glossary.EXPRESSION_COLOURS
    assert f"{NO_FACE} light grey" in glossary.EXPRESSION_COLOURS
