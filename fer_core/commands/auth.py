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

NAME = "auth"
HELP = "Accounts and audit log: list accounts, reset a password, unlock, verify the audit log."


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


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first, second = getpass.getpass("New password: "), getpass.getpass("Repeat: ")
    if first != second:
        raise ValueError("the passwords differ")
    return first


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
