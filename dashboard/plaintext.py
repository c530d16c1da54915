"""User- and file-supplied text shown as plain text: the one helper every message uses.

Why: Streamlit renders the body of ``st.error``/``st.warning``/``st.info``/``st.success``/
``st.caption``/``st.markdown`` as Markdown (GitHub flavour). A session label, a note, a typed
subject id, an uploaded file's name or a ZIP row quoted in an import refusal that contains
``![x](http://host/b.png)`` made the browser fetch that URL; ``[text](url)`` and bare URLs
became clickable links; ``:red[...]`` could restyle the page. So text that did not come from
this program goes through :func:`plain` (inside a message of our own) or :func:`say` (the whole
message is foreign text), never straight into a Markdown element.

No streamlit import at module level is needed for :func:`plain`, so ``dashboard.auth_ui`` and
``dashboard.ui`` can both use it without importing each other.
"""

from __future__ import annotations

import re
from typing import Any, Literal

#: Characters that open a Markdown construct anywhere in a line: links and images (``[]()!``),
#: HTML (``<>&``), emphasis and code (``*_~` ``), colour and icon directives (``:``), maths
#: (``$``), tables (``|``) and the escape itself. Autolinks and line-start markers are handled
#: separately in :func:`plain`.
_MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()<>#!|~:$&@")
#: a list item or heading marker at the start of the text (``- x``, ``+ x``, ``1. x``, ``1) x``)
_LEADING_MARKER = re.compile(r"^(\s*|\s*\d+)([-+=]|(?<=\d)[.)])(?=\s|$)")
#: Streamlit's Markdown (remark-gfm) turns ``http(s)://``, ``www.`` and ``a@b.c`` into links
#: *after* escapes are resolved, so a backslash cannot stop it: an invisible WORD JOINER
#: (U+2060) is put inside each of those patterns instead (the text looks the same).
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\\?\.)|(?<=@)", re.IGNORECASE)


Kind = Literal["error", "warning", "info", "success", "caption", "markdown", "write"]


def plain(text: object) -> str:
    """``text`` as literal characters inside Streamlit Markdown (labels, notes, ids, errors).

    Every character that can open a link, image, emphasis, HTML or directive is
    backslash-escaped (CommonMark drops the backslash when drawing), bare URLs and e-mail
    addresses are kept from becoming links by an invisible joiner; newlines become spaces,
    so a message stays one paragraph and a typed ``- x`` or ``1. x`` stays text.
    """
    one_line = " ".join(str(text).splitlines())
    out = "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in one_line)
    out = _AUTOLINK.sub(WORD_JOINER, out)  # no autolink: "http:⁠//", "www⁠.", "a@⁠b"
    return _LEADING_MARKER.sub(lambda m: m.group(1) + "\\" + m.group(2), out)


def say(container: Any, kind: Kind, text: object, **kwargs: Any) -> Any:
    """Show ``text`` (foreign, e.g. ``str(exc)``) with ``container.<kind>`` as plain text.

    ``container``: ``st``, ``st.sidebar``, a column... ``kwargs`` go to the element (``icon``).
    """
    return getattr(container, kind)(plain(text), **kwargs)
