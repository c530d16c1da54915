"""Shared page pieces: empty state, synthetic badge, formatting, pickers and download rows."""

from __future__ import annotations

import os
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st

from dashboard import auth_ui, charts, glossary, loaders
from dashboard.plaintext import plain
from fer_core.auth import Perm

# Keys of state shared by all pages (the sidebar pickers). Page-local widgets use a page prefix
# ("history.", "session.", "compare.") and are initialised with st.session_state.setdefault.
SUBJECT_KEY = "shared.subject"
SESSION_KEY = "shared.session"
PENDING_SUBJECT_KEY = "shared.pending_subject"
SYNTHETIC_BADGE = ":orange-badge[:material/science: SYNTHETIC demo data]"


def _browser_tz() -> str | None:
    try:
        return st.context.timezone
    except Exception:  # no browser behind this run (AppTest, a download produced later)
        return None


def display_tz() -> str:
    """Time zone of every date and hour shown: ``$FER_TIMEZONE`` (set by whoever runs the app),
    else the browser's own zone, else UTC. Every page states which one it used."""
    for name in (os.environ.get("FER_TIMEZONE"), _browser_tz()):
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


def local(ts) -> pd.Timestamp:
    return pd.Timestamp(ts).tz_convert(display_tz())


def localise(table: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``table`` with its UTC time columns in the display zone (charts draw wall-clock time)."""
    tz = display_tz()
    return table.assign(**{c: pd.to_datetime(table[c], utc=True).dt.tz_convert(tz)
                           for c in columns if c in table.columns})


def fmt_time(ts) -> str:
    return "—" if ts is None or pd.isna(ts) else local(ts).strftime("%Y-%m-%d %H:%M")


def fmt_duration(seconds: float) -> str:
    seconds = float(seconds or 0)
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def pct(value: float) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * value:.0f}%"


def empty_state() -> None:
    """What a fresh install shows instead of empty charts."""
    st.info(
        "**The log store is empty** — there is nothing to review yet.\n\n"
        "* **record** a session from the webcam on the *Record* page, or\n"
        "* **analyse** a video: `python -m fer_core analyze VIDEO --subject ID`, or\n"
        "* **import** a ZIP of logs exported from another installation (below, or "
        "`python -m fer_core logs import FILE.zip`), or\n"
        "* **try the dashboard now** with synthetic demo data: "
        "`python -m fer_core demo-data` (clearly marked *synthetic* everywhere).\n\n"
        + (f"Log store: `{loaders.root()}` (set `FER_LOG_ROOT` to use another folder)."
           if auth_ui.may(Perm.IMPORT) else "Ask an admin to add data."),
        icon=":material/inbox:",
    )
    if not auth_ui.may(Perm.IMPORT):
        return
    upload = st.file_uploader("Import a ZIP export of logs", type=["zip"], key="empty.import")
    if upload is not None:
        auth_ui.require(Perm.IMPORT)
        try:
            imported = loaders.store().import_zip(upload.getvalue())
        except Exception as exc:  # shown to the user; the store is left as it was
            st.error(f"Could not import {plain(upload.name)}: {plain(exc)}")
        else:
            auth_ui.audit("import", " ".join(f"subject={a} session={b}" for a, b in imported),
                          file=upload.name)
            st.success(f"Imported {len(imported)} session(s). Reload the page to review them.")


def require_data() -> pd.DataFrame:
    """Subjects table, or show the empty state and stop the page."""
    subjects = loaders.subjects()
    if subjects.empty:
        if loaders.store_subjects().empty:
            empty_state()
        else:
            st.info("No subject is assigned to your account yet. Ask an admin to assign "
                    "subjects to you" + (", or record a new one." if auth_ui.may(Perm.RECORD)
                                         else "."), icon=":material/lock:")
        st.stop()
    return subjects


def damage_notice(sessions: pd.DataFrame) -> None:
    """Name the damaged sessions among ``sessions`` instead of failing (or hiding them)."""
    if "damage" not in sessions.columns:
        return
    bad = sessions.loc[sessions["damage"].fillna("") != ""]
    if bad.empty:
        return
    lines = "\n".join(f"* {plain(r.subject)} / {plain(r.session)}: {plain(r.damage)}"
                      for r in bad.itertuples())
    st.warning(f"**{len(bad)} damaged session(s)**: skipped where their data cannot be read "
               "with certainty; everything else is shown. An admin can rebuild them with "
               f"`python -m fer_core logs repair`.\n\n{lines}", icon=":material/warning:")


def synthetic_badge(is_synthetic: bool) -> None:
    if is_synthetic:
        st.markdown(SYNTHETIC_BADGE + " This data was generated by `python -m fer_core "
                    "demo-data`; it is not a recording of a person.")


def subject_label(subjects: pd.DataFrame) -> Callable[[str], str]:
    synth = dict(zip(subjects["subject"], subjects["synthetic"], strict=True))
    return lambda s: f"{s} (synthetic)" if synth.get(s) else s


def session_label(sessions: pd.DataFrame) -> Callable[[str], str]:
    info = sessions.set_index("session")

    def label(session: str) -> str:
        row = info.loc[session]
        # label first, then the local start time (as in every table and axis), then the length
        text = f"{fmt_time(row['started_at'])} · {fmt_duration(row['duration_s'])}"
        if row.get("label"):
            text = f"{row['label']} · {text}"
        synthetic = row.get("synthetic") and "synthetic" not in text
        return text + (" (synthetic)" if synthetic else "")

    return label


#: Plotly's own modebar keeps zoom/pan/reset but loses "Download plot as a PNG": that download
#: would bypass the permission check and the audit log. The PNG button under each chart replaces
#: it (checked, audited, and drawn from the same figure).
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["toImage"]}


def chart(fig, name: str, key: str, subjects, session: str | None = None,
          guide: str | None = None, **select) -> None:
    """Show a plotly figure, its one-line reader's guide and an audited PNG download of it.

    ``subjects``: whose data the figure shows (named in the download's audit entry).
    ``guide``: how to read the chart and what its colours mean; by default the text kept for
    ``key`` in :data:`dashboard.glossary.CHART_GUIDES` (one place for app, docs and tests).
    ``select``: ``st.plotly_chart``'s selection arguments (``on_select``, ``selection_mode``).
    """
    st.plotly_chart(fig, key=f"{key}.chart", config=PLOTLY_CONFIG, **select)
    guide = guide or glossary.chart_guide(key)
    if guide:
        st.caption(f":material/help: {guide} Terms: see the *Glossary* page.")
    # the figure only holds subjects this page already checked (loaders refuse the others)
    auth_ui.download_button(
        st, f"PNG: {name}", lambda: charts.figure_png(fig),
        file_name=png_file_name(name, subjects, session),
        mime="image/png", key=f"{key}.png", icon=":material/image:", subjects=subjects,
        session=session,
    )


def downloads_heading() -> bool:
    """The "Downloads" heading, only for accounts that may download (none for viewers)."""
    if not auth_ui.may_download():
        return False
    st.subheader("Downloads")
    return True


def export_buttons(prefix: str, subject: str | None = None, session: str | None = None) -> bool:
    """The log store's CSV / Parquet / ZIP exports of the rows behind the page.

    Returns whether any is shown (none for a viewer, nor the whole-store export for an account
    that sees only its assigned subjects).
    """
    scope = "_".join(x for x in ("fer-logs", subject, session) if x)
    what = "This session's raw logs" if session else (
        f"Raw logs of {subject}" if subject else "All raw logs")
    cols = st.columns(3)
    shown = False
    for col, (fmt, mime) in zip(cols, (("csv", "text/csv"),
                                       ("parquet", "application/octet-stream"),
                                       ("zip", "application/zip")), strict=True):
        shown |= auth_ui.download_button(
            col, f"{what} ({fmt.upper()})",
            lambda fmt=fmt: loaders.store().export(fmt, subject=subject, session=session),
            file_name=f"{scope}.{fmt}", mime=mime, key=f"{prefix}.export.{fmt}",
            subjects=[subject], session=session, whole_store=subject is None, action="export",
            icon=":material/download:",
        )
    return shown


def png_file_name(name: str, subjects, session: str | None = None) -> str:
    """``ethogram_p01_s-a.png``, not ``ethogram.png``: a saved chart says whose it is (issue 19)."""
    parts = [slug(name), slug("-".join(dict.fromkeys(str(s) for s in subjects)))]
    if session:
        parts.append(slug(session))
    return "_".join(p for p in parts if p) + ".png"


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60]


# ---- settings that survive F5 (issue 19) -------------------------------------------------------

def url_setting(key: str, param: str, default, parse: Callable[[str], object] = str):
    """A page setting kept in the URL's query string, so a reload (F5) or a bookmark keeps it.

    Why the URL: a reload starts a new Streamlit session and empties ``st.session_state``; the
    query string survives. A fresh session takes ``?param=`` (when ``parse`` accepts it; a
    malformed value is ignored, never an error), else ``default``. Call :func:`to_url` with the
    widget's value after drawing it, so the URL always holds what is on screen.
    """
    if key not in st.session_state:
        value = default
        raw = st.query_params.get(param)
        if raw is not None:
            try:
                value = parse(raw)
            except (ValueError, TypeError, KeyError):
                value = default
        st.session_state[key] = value
    return st.session_state[key]


def keep_valid(key: str, valid: Callable[[object], bool]) -> None:
    """Forget a widget's stored value that no longer fits its options (another subject was
    picked in the sidebar): Streamlit would refuse it, and the page falls back to its default."""
    if key in st.session_state and not valid(st.session_state[key]):
        del st.session_state[key]


def in_range(low, high) -> Callable[[object], bool]:
    """For :func:`keep_valid`: a (first, last) date pair within ``low..high``."""
    def valid(value) -> bool:
        return (isinstance(value, tuple | list) and len(value) == 2
                and low <= value[0] <= value[1] <= high)

    return valid


def to_url(**params) -> None:
    """Mirror page settings into the query string (``None`` removes one)."""
    for name, value in params.items():
        if value is None:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)


def one_of(options) -> Callable[[str], str]:
    """A ``parse`` for :func:`url_setting` that accepts only one of ``options``."""
    allowed = [str(o) for o in options]

    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(raw)
        return raw

    return parse


def number_in(low: float, high: float, step: float) -> Callable[[str], float]:
    """A ``parse`` for a slider's value: a number within ``low..high`` on its ``step`` grid."""
    def parse(raw: str) -> float:
        value = float(raw)
        if not low <= value <= high or abs(round(value / step) * step - value) > 1e-9:
            raise ValueError(raw)
        return value

    return parse


def date_range_text(period) -> str:
    """``2026-11-19..2026-11-25`` for the URL."""
    return f"{period[0]}..{period[1]}"


def date_range_in(low, high) -> Callable[[str], tuple]:
    """A ``parse`` for a date range within ``low..high`` written by :func:`date_range_text`."""
    import datetime as dt

    def parse(raw: str) -> tuple:
        first, last = (dt.date.fromisoformat(x) for x in raw.split(".."))
        if not low <= first <= last <= high:
            raise ValueError(raw)
        return first, last

    return parse


# ---- sessions: names, opening one, the chosen baseline ----------------------------------------

def session_names(subject: str) -> dict[str, str]:
    """Session id -> "label · local start time" for every session of ``subject``."""
    from fer_core.analytics.session_list import session_names as names

    return names(loaders.sessions(subject), display_tz())


def open_session(subject: str, session: str) -> None:
    """Switch to the Session summary page with ``session`` of ``subject`` picked."""
    st.session_state[PENDING_SUBJECT_KEY] = subject
    st.session_state[SESSION_KEY] = session
    st.switch_page("pages/session.py")


def save_baseline(subject: str, wanted: set[str], sessions: list[str]) -> int:
    """Make exactly ``wanted`` (of ``sessions``) the subject's chosen baseline.

    Every change is checked (ANNOTATE on the subject), audited one entry per session and
    queued for the central store like a note. Returns how many sessions changed.
    """
    from fer_core.central.background import publish_later

    auth_ui.require(Perm.ANNOTATE, subject)
    store = loaders.store()
    changed = 0
    for session in sessions:
        value = session in wanted
        if store.set_baseline(subject, session, value) != value:
            changed += 1
            auth_ui.audit("annotate", f"subject={subject} session={session}", field="baseline",
                          value=value)
            publish_later(store.root, subject, session)
    return changed
