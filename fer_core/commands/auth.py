"""``python -m fer_core auth``: account recovery and audit checks from the machine itself.

For the person with access to the computer (who can read the files anyway): reset a forgotten
password or unlock a throttled name, list accounts, and verify the audit log's hash chain.
Every change is written to the audit log as done by ``cli:<os user>``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fer_core.auth import Auth

NAME = "auth"
HELP = ("Accounts and audit log: list accounts, reset a password, unlock, verify the audit "
        "log, erase a subject or session.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None,
                        help="auth folder (default: $FER_AUTH_DIR or <log root>/../.fer_auth)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list accounts and their roles")
    reset = sub.add_parser("reset-password", help="set a new password (asked twice; also "
                           "reads one line from stdin when not a terminal)")
    reset.add_argument("username")
    unlock = sub.add_parser("unlock", help="clear the wrong-password lock of a username")
    unlock.add_argument("username")
    sub.add_parser("verify-audit", help="check that no audit line was changed or removed")
    erase = sub.add_parser("erase", help="permanently erase a subject (every session, video "
                           "and assignment) or one session of it; audited")
    erase.add_argument("--subject", required=True)
    erase.add_argument("--session", default=None, help="only this session of the subject")
    erase.add_argument("--root", default=None, help="log store (default: the configured one)")
    erase.add_argument("--yes", action="store_true", help="confirm: nothing is asked")


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first, second = getpass.getpass("New password: "), getpass.getpass("Repeat: ")
    if first != second:
        raise ValueError("the passwords differ")
    return first


def _erase(auth: Auth, who: str, args: argparse.Namespace) -> int:
    """The Admin page's erasure (:meth:`fer_core.auth.Auth.erase`), from the machine itself."""
    from fer_core.auth import ErasureError
    from fer_core.logstore import LogStore, SessionBusyError, SessionNotFoundError

    target = f"{args.subject}/{args.session}" if args.session else f"subject {args.subject}"
    if not args.yes:
        print(f"refused: erasing {target} is permanent; add --yes to confirm", file=sys.stderr)
        return 2
    try:
        removed = auth.erase(who, LogStore(args.root), args.subject, args.session)
    except (SessionBusyError, SessionNotFoundError, ErasureError) as exc:
        print(f"not erased: {exc}", file=sys.stderr)
        return 1
    print(f"erased {target}: " + "; ".join(removed))
    return 0


def run(args: argparse.Namespace) -> int:
    from fer_core.auth import AccountError, Auth, auth_dir

    auth = Auth(args.dir or auth_dir())
    who = f"cli:{getpass.getuser() if hasattr(os, 'getuid') else 'user'}"
    try:
        if args.action == "list":
            for a in auth.accounts.all():
                print(f"{a.username}\t{a.role}\t{'active' if a.active else 'disabled'}")
        elif args.action == "reset-password":
            if auth.accounts.get(args.username) is None:
                raise AccountError(f"No account {args.username!r}.")
            auth.accounts.set_password(args.username, _read_password())
            auth.sessions.revoke_user(args.username)
            auth.audit.write(who, "account_update", f"user={args.username}",
                             password="reset from the command line")
            print(f"password of {args.username} changed")
        elif args.action == "unlock":
            auth.throttle.record_success(args.username)
            auth.audit.write(who, "account_update", f"user={args.username}", unlocked=True)
            print(f"{args.username} unlocked")
        elif args.action == "erase":
            return _erase(auth, who, args)
        elif args.action == "verify-audit":
            problems = auth.audit.verify()  # one line per finding, never raises on bad lines
            for p in problems:
                print(p, file=sys.stderr)
            n = sum(1 for _ in auth.audit.entries())
            print(f"{n} entries, " + (f"ALTERED: {len(problems)} finding(s)" if problems
                                      else "chain intact"))
            return 1 if problems else 0
    except (AccountError, ValueError, RuntimeError, OSError) as exc:
        # a damaged auth file or an unreadable folder: one line, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
