"""Local accounts, roles, subject assignments, login throttling, sessions and the audit log.

A plain library (no streamlit): the dashboard's ``dashboard.auth_ui`` is a thin form over
:class:`Auth`. The threat model and operating notes are in docs/security.md.
"""

from fer_core.auth.accounts import Account, AccountError, AccountStore
from fer_core.auth.assignments import Assignments
from fer_core.auth.audit import AuditLog
from fer_core.auth.config import auth_dir
from fer_core.auth.consent import ConsentError, consent_problem, require_consent
from fer_core.auth.erasure import ErasureError, erase_session, erase_subject, leftovers
from fer_core.auth.permissions import ROLE_PERMISSIONS, Perm, Principal, Role
from fer_core.auth.service import Auth, LoginResult
from fer_core.auth.sessions import SessionRegistry
from fer_core.auth.throttle import Throttle

__all__ = [
    "ROLE_PERMISSIONS",
    "Account",
    "AccountError",
    "AccountStore",
    "Assignments",
    "AuditLog",
    "Auth",
    "ConsentError",
    "ErasureError",
    "LoginResult",
    "Perm",
    "Principal",
    "Role",
    "SessionRegistry",
    "Throttle",
    "auth_dir",
    "consent_problem",
    "erase_session",
    "erase_subject",
    "leftovers",
    "require_consent",
]
