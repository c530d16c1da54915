"""The Record page's consent and audit rules, without Streamlit: consent per recording, audited
starts and ends, the consent record, and the checks on a typed subject id.

Why here: these rules decide what is on record about a person (who consented, when, who
recorded); they were a state machine inside ``dashboard/pages/record.py``. As plain functions
over a mutable mapping (the page passes ``st.session_state``) and an audit callback, they are
tested without a browser, and the page only lays out widgets.

The rules:

* consent is per recording: it is unticked when the subject changes and after every recording
  or analysis (:func:`request_reset`, applied by :func:`apply_pending_reset` on the next run,
  before the checkbox exists, since a widget's state may not be set after it is drawn);
* the tick's time is kept (:func:`consent_changed`) and written into the consent record
  (:func:`consent_record`) with the words shown, their version, the subject and who obtained it;
* every recorded session is audited once at its start (when its first row is seen) and once at
  its end (:func:`audit_start`, :func:`audit_end`), whatever the number of reruns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Protocol

from fer_core.logstore import InvalidIdError, validate_id

CONSENT_TEXT = (
    "The person in front of the camera has been informed about this recording and has given "
    "consent: their facial expressions are analysed by an automatic classifier and the "
    "predictions (not images) are stored on this computer for research or clinical review."
)
#: Version of CONSENT_TEXT stored in every consent record; change it whenever the text changes.
CONSENT_TEXT_VERSION = "1 (2026-11-27)"

# Keys of the page's state (``st.session_state``).
CONSENT_KEY, CONSENT_AT_KEY = "record.consent", "record.consent_at"
#: set when a recording ended: the next run (before the checkbox exists) unticks consent
CONSENT_RESET_KEY = "record.consent_reset"
#: (subject, session) pairs whose start / end this browser session already audited
STARTS_KEY, STOPPED_KEY = "record.audited_starts", "record.audited_stop"

State = MutableMapping[str, Any]


class Audit(Protocol):
    """``auth_ui.audit``: (action, target, **details)."""

    def __call__(self, action: str, target: str, **details: Any) -> None: ...


class Finished(Protocol):
    """What :func:`audit_end` needs of a finished recording (a ``SessionResult``)."""

    subject: str
    session: str
    frames: int
    rows: int


def target(subject: str, session: str) -> str:
    """The audit log's target of a recorded session."""
    return f"subject={subject} session={session}"


def consent_changed(state: State, now: Callable[[], datetime] | None = None) -> None:
    """The consent box changed: keep when it was ticked (None when unticked)."""
    at = (now or (lambda: datetime.now(UTC)))()
    state[CONSENT_AT_KEY] = at.isoformat(timespec="seconds") if state.get(CONSENT_KEY) else None


def reset_consent(state: State) -> None:
    """Untick consent (a new subject or a new recording asks again). Only before the checkbox
    is drawn in this run, or from a widget callback."""
    state[CONSENT_KEY] = False
    state[CONSENT_AT_KEY] = None


def request_reset(state: State) -> None:
    """Untick consent on the next run (the checkbox of this run is already drawn)."""
    state[CONSENT_RESET_KEY] = True


def apply_pending_reset(state: State) -> None:
    """Run first on every run of the page: applies :func:`request_reset`."""
    if state.pop(CONSENT_RESET_KEY, False):
        reset_consent(state)


def consent_at(state: State) -> str | None:
    """When the consent box was ticked (ISO, UTC), None when it is not ticked."""
    return state.get(CONSENT_AT_KEY) if state.get(CONSENT_KEY) else None


def consent_record(subject: str, at: str, by: dict[str, str]) -> dict[str, Any]:
    """The consent record stored in the session metadata: who, for whom, which words, when.

    ``by``: who obtained it (``auth_ui.consent_by()``: ``{"obtained_by": username}``).
    """
    return {"given": True, "text": CONSENT_TEXT, "text_version": CONSENT_TEXT_VERSION,
            "subject": subject, **by, "at": at}


def audit_start(state: State, audit: Audit, subject: str, session: str) -> bool:
    """``record_start`` once per recorded session; True when it was written now."""
    started = state.setdefault(STARTS_KEY, set())
    if (subject, session) in started:
        return False
    started.add((subject, session))
    audit("record_start", target(subject, session), consent_at=state.get(CONSENT_AT_KEY) or "")
    return True


def audit_end(state: State, audit: Audit, fin: Finished | None,
              action: str = "record_stop") -> bool:
    """Audit a recording (or analysis, ``action="analyse"``) that just ended and untick
    consent on the next run; True when ``fin`` is new (the page then reruns)."""
    if fin is None or state.get(STOPPED_KEY) == (fin.subject, fin.session):
        return False
    state[STOPPED_KEY] = (fin.subject, fin.session)
    if action == "record_stop":
        audit_start(state, audit, fin.subject, fin.session)  # too short to be seen live
    audit(action, target(fin.subject, fin.session), frames=fin.frames, rows=fin.rows)
    request_reset(state)
    return True


def new_subject_problem(subject: str, existing: Iterable[str]) -> str | None:
    """Why a typed new subject id cannot be used (None when it can).

    Refused: an invalid id (:func:`fer_core.logstore.validate_id`) and an id that already exists
    in the store, also when it differs only in case (``p017`` beside ``P017``): a new subject
    must not silently add sessions to somebody else's history.
    """
    if not subject:
        return "Enter a subject id."
    try:
        validate_id(subject, "subject")
    except InvalidIdError as exc:
        return str(exc)
    same = [s for s in existing if s.casefold() == subject.casefold()]
    if subject in same:
        return (f"Subject {subject} already exists: choose it in the Subject list instead of "
                "creating it again.")
    if same:
        return (f"Subject {same[0]} already exists (differing only in case from {subject}): "
                "choose it in the Subject list, or pick another id.")
    return None
