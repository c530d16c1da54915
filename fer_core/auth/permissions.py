"""Roles and what each may do: the single table every check in the app consults.

Why a fixed table and not per-user grants: a small clinic needs three clear roles an admin can
explain to an ethics board; anything finer is done with subject assignments.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    PSYCHOLOGIST = "psychologist"
    VIEWER = "viewer"


class Perm(StrEnum):
    """An action on the data or the installation."""

    VIEW = "view"  # see a subject's charts and tables on screen
    DOWNLOAD = "download"  # take data out of the app: PNG, HTML report, CSV/Parquet/ZIP
    RECORD = "record"  # record or analyse a new session
    ANNOTATE = "annotate"  # edit notes; add, edit, delete task segments
    IMPORT = "import"  # import a ZIP of logs
    DELETE = "delete"  # erase sessions and subjects
    MANAGE_ACCOUNTS = "manage_accounts"  # accounts and assignments
    READ_AUDIT = "read_audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.PSYCHOLOGIST: frozenset({Perm.VIEW, Perm.DOWNLOAD, Perm.RECORD, Perm.ANNOTATE}),
    # read-only: on-screen review of assigned subjects; no download (data never leaves the app)
    Role.VIEWER: frozenset({Perm.VIEW}),
}

#: Permissions that are granted per subject: a non-admin needs the subject assigned to them.
SUBJECT_SCOPED: frozenset[Perm] = frozenset({Perm.VIEW, Perm.DOWNLOAD, Perm.RECORD,
                                             Perm.ANNOTATE})


@dataclass(frozen=True)
class Principal:
    """Who is acting: the logged-in account's name and role (re-read on every request)."""

    username: str
    role: Role

    @property
    def sees_all_subjects(self) -> bool:
        return self.role is Role.ADMIN


def role_allows(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[Role(role)]
