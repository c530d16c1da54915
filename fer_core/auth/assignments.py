"""Which subjects each non-admin account may see: ``assignments.json`` {username: [subject]}.

A psychologist who records a new subject is assigned to it automatically (see
:meth:`fer_core.auth.service.Auth.claim_subject`); everything else is granted by an admin.
"""

from __future__ import annotations

from pathlib import Path

from fer_core.auth.jsonfile import read_json, update_json


class Assignments:
    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / "assignments.json"

    def all(self) -> dict[str, list[str]]:
        return {u: sorted(s) for u, s in read_json(self.path, {}).items()}

    def subjects_of(self, username: str) -> set[str]:
        return set(read_json(self.path, {}).get(username, []))

    def users_of(self, subject: str) -> set[str]:
        return {u for u, subjects in read_json(self.path, {}).items() if subject in subjects}

    def assign(self, subject: str, username: str) -> None:
        def change(data: dict) -> None:
            subjects = set(data.get(username, []))
            subjects.add(subject)
            data[username] = sorted(subjects)

        update_json(self.path, {}, change)

    def claim(self, subject: str, username: str, exists: bool) -> bool:
        """Assign a *new* subject to ``username``, atomically; False if it is taken.

        Why one locked read-modify-write: checking "nobody owns it" and assigning in two steps
        let two psychologists who typed the same new id at the same instant both get it (each
        would then see the other's recordings). Under the file lock (threads and processes)
        exactly one claimant wins. ``exists``: the subject already has data in the store, so
        only an admin may grant it. Re-claiming one's own subject succeeds.
        """
        def change(data: dict) -> bool:
            if subject in data.get(username, []):
                return True
            if exists or any(subject in subjects for subjects in data.values()):
                return False
            data[username] = sorted({*data.get(username, []), subject})
            return True

        return update_json(self.path, {}, change)

    def unassign(self, subject: str, username: str) -> None:
        def change(data: dict) -> None:
            subjects = set(data.get(username, [])) - {subject}
            if subjects:
                data[username] = sorted(subjects)
            else:
                data.pop(username, None)

        update_json(self.path, {}, change)

    def remove_subject(self, subject: str) -> None:
        """Forget a subject everywhere (after its erasure)."""
        def change(data: dict) -> None:
            for user in list(data):
                data[user] = [s for s in data[user] if s != subject]
                if not data[user]:
                    del data[user]

        update_json(self.path, {}, change)

    def remove_user(self, username: str) -> None:
        update_json(self.path, {}, lambda data: data.pop(username, None))
