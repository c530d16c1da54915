"""The one object the app asks: who is logged in, and may they do this to that subject?

:class:`Auth` ties accounts, throttling, login sessions, subject assignments and the audit log
to one folder and one clock (injectable, so expiry and lock-outs are tested without sleeping).
Every decision goes through :meth:`Auth.can`; the UI only hides what this already forbids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fer_core.auth import config, cookies
from fer_core.auth.accounts import AccountError, AccountStore
from fer_core.auth.assignments import Assignments
from fer_core.auth.audit import AuditLog
from fer_core.auth.erasure import erase_session, erase_subject
from fer_core.auth.permissions import SUBJECT_SCOPED, Perm, Principal, Role, role_allows
from fer_core.auth.sessions import SessionRegistry
from fer_core.auth.throttle import Throttle

if TYPE_CHECKING:
    from fer_core.logstore import LogStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginResult:
    token: str | None
    error: str = ""
    retry_after_s: float = 0.0


class Auth:
    def __init__(self, directory: str | Path, *, clock: Callable[[], datetime] | None = None,
                 idle_timeout_s: float | None = None, max_age_s: float | None = None) -> None:
        self.dir = config.prepare_dir(Path(directory))
        self._clock = clock or (lambda: datetime.now(UTC))
        now = self.now  # every part reads the clock through self, so tests can swap it
        self.accounts = AccountStore(self.dir, now)
        self.throttle = Throttle(self.dir, now)
        self.sessions = SessionRegistry(
            now, idle_timeout_s=idle_timeout_s or config.idle_timeout_s(),
            max_age_s=max_age_s or config.max_age_s())
        self.assignments = Assignments(self.dir)
        self.audit = AuditLog(self.dir, now)
        self._cookie_key = config.cookie_key(self.dir)

    def now(self) -> datetime:
        return self._clock()

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    # ------------------------------------------------------------------ logging in
    def needs_setup(self) -> bool:
        return self.accounts.is_empty()

    def setup_admin(self, username: str, password: str) -> str:
        account = self.accounts.create_first_admin(username, password)
        self.audit.write(account.username, "account_create", f"user={account.username}",
                         role=str(account.role), via="first-run setup")
        return self._start(account.username)

    def login(self, username: str, password: str) -> LoginResult:
        # capped: a guessed name is written to throttle.json and the audit log
        name = (username or "").strip().lower()[:100]
        # reserved atomically *before* the ~150 ms password check, so parallel requests cannot
        # each read "not locked" and make a guess (see fer_core.auth.throttle)
        slot = self.throttle.reserve(name)
        if not slot.allowed:  # locked: the password is not even checked
            self.audit.write(name, "login_throttled", f"user={name}")
            return LoginResult(None, f"Too many wrong passwords. Try again in "
                               f"{slot.wait_s:.0f} s.", slot.wait_s)
        account = self.accounts.verify(name, password)
        if account is None:
            self.audit.write(name, "login_failed", f"user={name}")
            message = "Wrong username or password."
            if slot.lock_if_wrong_s:
                message += f" Too many attempts: locked for {slot.lock_if_wrong_s:.0f} s."
            return LoginResult(None, message, slot.lock_if_wrong_s)
        self.throttle.record_success(name)
        return LoginResult(self._start(account.username))

    def login_external(self, username: str, provider: str) -> LoginResult:
        """A login vouched for by an OIDC provider: the local account must exist and be active."""
        account = self.accounts.get(username)
        if account is None or not account.active:
            self.audit.write(username, "login_failed", f"user={username}", via=provider)
            return LoginResult(None, f"No active account {username!r} here; ask an admin.")
        return LoginResult(self._start(account.username, via=provider))

    def _start(self, username: str, via: str = "password") -> str:
        self.audit.write(username, "login", f"user={username}", via=via)
        return self.sessions.create(username)

    def logout(self, token: str | None, reason: str = "logout") -> None:
        username = self.sessions.touch(token)
        self.sessions.revoke(token)
        if username:
            self.audit.write(username, reason, f"user={username}")

    # ------------------------------------------------------------------ login cookie
    def session_cookie(self, token: str) -> str:
        """The signed cookie value that lets this login survive a reload (fer_core.auth.cookies).

        It expires with the login's maximum age; the server-side session still decides.
        """
        expires = int(self.now().timestamp() + self.sessions.max_age_s)
        return cookies.sign(token, expires, self._cookie_key)

    def resume(self, cookie: str | None) -> str | None:
        """The live session token behind a login cookie, or None (audited: forged or expired).

        A cookie that verifies but whose session is gone (logged out, idle, restarted app,
        disabled account) counts as expired.
        """
        token, reason = cookies.verify(cookie, self._cookie_key, self.now().timestamp())
        if token is not None and self.principal(token) is None:
            token, reason = None, cookies.EXPIRED
        if token is None:
            self.audit.write("", "session_rejected", "login cookie", reason=reason)
        return token

    def principal(self, token: str | None) -> Principal | None:
        """The logged-in account behind ``token``; None when expired, unknown or disabled.

        The account is re-read each time, so a role change or a disabled account takes effect
        on the user's next click, not at their next login.
        """
        username = self.sessions.touch(token)
        if username is None:
            return None
        account = self.accounts.get(username)
        if account is None or not account.active:
            self.sessions.revoke(token)
            return None
        return Principal(account.username, account.role)

    # ------------------------------------------------------------------ deciding
    def allowed_subjects(self, who: Principal) -> set[str] | None:
        """Subjects ``who`` may see; None means all (admins)."""
        if who.sees_all_subjects:
            return None
        return self.assignments.subjects_of(who.username)

    def can(self, who: Principal | None, perm: Perm, subject: str | None = None) -> bool:
        if who is None or not role_allows(who.role, perm):
            return False
        if subject is None or perm not in SUBJECT_SCOPED or who.sees_all_subjects:
            return True
        return subject in self.assignments.subjects_of(who.username)

    def claim_subject(self, who: Principal, subject: str, exists: bool) -> str | None:
        """Let ``who`` record ``subject``; assigns a new subject to them. Returns why not."""
        if not self.can(who, Perm.RECORD):
            return "Your role may not record."
        if self.can(who, Perm.RECORD, subject):
            return None
        if not self.assignments.claim(subject, who.username, exists):  # atomic: one wins
            self.audit.write(who.username, "denied", f"subject={subject}",
                             permission=Perm.RECORD.value,
                             reason="subject exists or is claimed by another account")
            return (f"Subject {subject} already exists or was just taken by another account "
                    "and is not assigned to you; ask an admin to assign it, or use another id.")
        self.audit.write(who.username, "assign", f"subject={subject}", account=who.username,
                         via="created by recording")
        return None

    # ------------------------------------------------------------------ admin helpers
    def create_account(self, by: Principal, username: str, password: str, role: Role) -> None:
        self._need(by, Perm.MANAGE_ACCOUNTS)
        account = self.accounts.create(username, password, role, by=by.username)
        self.audit.write(by.username, "account_create", f"user={account.username}",
                         role=str(account.role))

    def update_account(self, by: Principal, username: str, *, role: Role | None = None,
                       active: bool | None = None, password: str | None = None) -> None:
        self._need(by, Perm.MANAGE_ACCOUNTS)
        changes = {}
        if role is not None:
            self.accounts.set_role(username, role)
            changes["role"] = str(Role(role))
        if active is not None:
            self.accounts.set_active(username, active)
            changes["active"] = bool(active)
        if password:
            self.accounts.set_password(username, password)
            changes["password"] = "changed"
        if changes.get("active") is False or "password" in changes:
            self.sessions.revoke_user(username)
        self.audit.write(by.username, "account_update", f"user={username}", **changes)

    def set_assignment(self, by: Principal, subject: str, username: str, assigned: bool) -> None:
        self._need(by, Perm.MANAGE_ACCOUNTS)
        if self.accounts.get(username) is None:
            raise AccountError(f"No account {username!r}.")
        if assigned:
            self.assignments.assign(subject, username)
        else:
            self.assignments.unassign(subject, username)
        self.audit.write(by.username, "assign" if assigned else "unassign",
                         f"subject={subject}", account=username)

    def erase(self, by: Principal | str, store: LogStore, subject: str,
              session: str | None = None, media: Path | None = None) -> list[str]:
        """Erase one session, or a subject with every session and video; returns what went.

        The one erasure the Admin page and ``python -m fer_core auth erase`` both run, so both
        check, erase, drop the subject's assignments and audit in the same way. ``by``: a
        logged-in principal (needs the delete permission; a refusal is audited) or, from the
        command line, the operator's ``cli:<os user>`` name (whoever can run it can read the
        files anyway). A failure is audited as ``delete_failed`` and raised.
        """
        actor = by if isinstance(by, str) else by.username
        if not isinstance(by, str):
            self._need(by, Perm.DELETE)
        target = f"subject={subject}" + (f" session={session}" if session else "")
        try:
            if session:
                removed = erase_session(store, subject, session, media)
            else:
                removed = erase_subject(store, subject, media)
                self.assignments.remove_subject(subject)
        except Exception as exc:
            self.audit.write(actor, "delete_failed", target, error=str(exc))
            raise
        self.audit.write(actor, "delete", target, removed=removed)
        return removed

    def _need(self, who: Principal, perm: Perm) -> None:
        if not self.can(who, perm):
            self.audit.write(who.username, "denied", perm.value)
            raise PermissionError(f"{who.username} ({who.role}) may not {perm.value}")
