"""Local accounts: argon2id password hashes in ``accounts.json`` (never a plain password).

There is no default account and no default password: the first account can only be created
while the file holds no account at all (:meth:`AccountStore.create_first_admin`), and that check
happens under the file lock so two browsers racing through the setup form cannot both win.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fer_core.auth.jsonfile import read_json, update_json
from fer_core.auth.permissions import Role

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{1,63}$")
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults
#: verified against when the username does not exist, so both cases cost the same time
_DUMMY_HASH = _hasher.hash("not a real password, only for equal timing")


class AccountError(ValueError):
    """A bad username, password, role, or an impossible change (e.g. removing the last admin)."""


@dataclass
class Account:
    username: str
    role: Role
    password_hash: str
    created_at: str
    created_by: str
    active: bool = True
    password_changed_at: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> Account:
        return cls(**{**data, "role": Role(data["role"])})


def normalize_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise AccountError("Username: 2-64 characters, letters, digits and . _ @ + - "
                           "(starting with a letter or digit).")
    return name


def check_password_policy(password: str, username: str = "") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Password: at least {MIN_PASSWORD_LENGTH} characters.")
    if username and password.strip().lower() == username.lower():
        raise AccountError("Password: must not be the username.")


class AccountStore:
    """The accounts file. Every method re-reads it, so changes by another process show at once."""

    def __init__(self, directory: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(directory) / "accounts.json"
        self.clock = clock or (lambda: datetime.now(UTC))

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def all(self) -> list[Account]:
        data = read_json(self.path, {})
        return [Account.from_dict(a) for a in sorted(data.values(), key=lambda a: a["username"])]

    def get(self, username: str) -> Account | None:
        data = read_json(self.path, {})
        raw = data.get((username or "").strip().lower())
        return Account.from_dict(raw) if raw else None

    def is_empty(self) -> bool:
        return not read_json(self.path, {})

    # ------------------------------------------------------------------ changes
    def _new(self, username: str, password: str, role: Role | str, by: str) -> Account:
        name = normalize_username(username)
        check_password_policy(password, name)
        now = self._now()
        return Account(name, Role(role), _hasher.hash(password), now, by, True, now)

    def create_first_admin(self, username: str, password: str) -> Account:
        """The setup step: only possible while no account exists."""
        account = self._new(username, password, Role.ADMIN, by="first-run setup")

        def change(data: dict) -> None:
            if data:
                raise AccountError("Setup is already done: an account exists.")
            data[account.username] = asdict(account)

        update_json(self.path, {}, change)
        log.info("first admin account %s created", account.username)
        return account

    def create(self, username: str, password: str, role: Role | str, *, by: str) -> Account:
        try:
            role = Role(role)
        except ValueError as exc:
            raise AccountError(f"Unknown role {role!r}.") from exc
        account = self._new(username, password, role, by)

        def change(data: dict) -> None:
            if account.username in data:
                raise AccountError(f"Account {account.username} already exists.")
            data[account.username] = asdict(account)

        update_json(self.path, {}, change)
        return account

    def _update(self, username: str, apply: Callable[[dict], None]) -> Account:
        name = (username or "").strip().lower()

        def change(data: dict) -> Account:
            if name not in data:
                raise AccountError(f"No account {name!r}.")
            apply(data[name])
            admins = [a for a in data.values() if a["role"] == Role.ADMIN and a["active"]]
            if not admins:
                raise AccountError("At least one active admin account must remain.")
            return Account.from_dict(data[name])

        return update_json(self.path, {}, change)

    def set_password(self, username: str, password: str) -> Account:
        check_password_policy(password, username)
        hashed, now = _hasher.hash(password), self._now()
        return self._update(username, lambda a: a.update(password_hash=hashed,
                                                         password_changed_at=now))

    def set_role(self, username: str, role: Role | str) -> Account:
        try:
            role = Role(role)
        except ValueError as exc:
            raise AccountError(f"Unknown role {role!r}.") from exc
        return self._update(username, lambda a: a.update(role=str(role)))

    def set_active(self, username: str, active: bool) -> Account:
        return self._update(username, lambda a: a.update(active=bool(active)))

    # ------------------------------------------------------------------ checking
    def verify(self, username: str, password: str) -> Account | None:
        """The account if the password matches and the account is active, else None.

        Unknown usernames cost one hash verification too, so timing does not reveal them.
        """
        account = self.get(username)
        stored = account.password_hash if account else _DUMMY_HASH
        try:
            _hasher.verify(stored, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if account is None or not account.active:
            return None
        if _hasher.check_needs_rehash(stored):
            self._update(account.username, lambda a: a.update(
                password_hash=_hasher.hash(password)))
        return account
