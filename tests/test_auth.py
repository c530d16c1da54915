"""fer_core.auth on real files in tmp_path: accounts, throttling, expiry, roles, audit, erasure.

Time is an injected clock (:class:`Clock`), never a sleep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from fer_core.auth import (
    AccountError,
    Auth,
    ConsentError,
    ErasureError,
    Perm,
    Principal,
    Role,
    auth_dir,
    consent_problem,
    erase_session,
    erase_subject,
    require_consent,
)
from fer_core.logstore import LogStore, SessionNotFoundError
from tests.dashboard_fixtures import session_a_rows, session_b_rows, write_session

PW = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def auth(tmp_path, clock):
    a = Auth(tmp_path / "auth", clock=clock, idle_timeout_s=600, max_age_s=3600)
    a.setup_admin("admin", PW)
    return a


def admin(auth) -> Principal:
    return Principal("admin", Role.ADMIN)


# ---------------------------------------------------------------- accounts and passwords
def test_first_run_creates_the_admin_once_and_stores_no_plain_password(tmp_path):
    a = Auth(tmp_path / "auth")
    assert a.needs_setup()
    token = a.setup_admin("Admin", PW)
    assert a.principal(token) == Principal("admin", Role.ADMIN)
    assert not a.needs_setup()
    with pytest.raises(AccountError, match="already done"):
        a.setup_admin("mallory", "another password 1")
    raw = (tmp_path / "auth" / "accounts.json").read_text()
    assert PW not in raw and "$argon2id$" in raw
    assert oct((tmp_path / "auth").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "auth" / "accounts.json").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("password", ["short", "", "admin", "ADMIN     "])
def test_weak_passwords_are_refused(tmp_path, password):
    a = Auth(tmp_path / "auth")
    with pytest.raises(AccountError, match="Password"):
        a.setup_admin("admin", password)
    assert a.needs_setup(), "a refused setup must not create anything"


def test_bad_usernames_and_roles_are_refused(auth):
    for name in ["", "a", "../x", "x y", "a" * 80]:
        with pytest.raises(AccountError, match="Username"):
            auth.create_account(admin(auth), name, PW, Role.VIEWER)
    with pytest.raises(AccountError, match="role"):
        auth.create_account(admin(auth), "bob", PW, "superuser")
    with pytest.raises(AccountError, match="already exists"):
        auth.create_account(admin(auth), "ADMIN", PW, Role.VIEWER)


def test_wrong_password_and_unknown_user_are_rejected_alike(auth):
    wrong = auth.login("admin", "wrong password!")
    unknown = auth.login("nobody", PW)
    assert wrong.token is None and unknown.token is None
    assert wrong.error == unknown.error == "Wrong username or password."
    ok = auth.login("ADMIN ", PW)
    assert auth.principal(ok.token) == Principal("admin", Role.ADMIN)


def test_disabled_account_cannot_log_in_and_is_logged_out(auth):
    auth.create_account(admin(auth), "psy", PW, Role.PSYCHOLOGIST)
    token = auth.login("psy", PW).token
    assert auth.principal(token) is not None
    auth.update_account(admin(auth), "psy", active=False)
    assert auth.principal(token) is None
    assert auth.login("psy", PW).token is None


def test_the_last_admin_cannot_be_demoted_or_disabled(auth):
    with pytest.raises(AccountError, match="admin"):
        auth.update_account(admin(auth), "admin", role=Role.VIEWER)
    with pytest.raises(AccountError, match="admin"):
        auth.update_account(admin(auth), "admin", active=False)
    assert auth.accounts.get("admin").role is Role.ADMIN


def test_role_change_applies_on_the_next_request(auth):
    auth.create_account(admin(auth), "psy", PW, Role.PSYCHOLOGIST)
    token = auth.login("psy", PW).token
    assert auth.can(auth.principal(token), Perm.RECORD)
    auth.update_account(admin(auth), "psy", role=Role.VIEWER)
    assert not auth.can(auth.principal(token), Perm.RECORD)


# ---------------------------------------------------------------- throttling
def test_throttling_after_five_free_failures_with_growing_lock(auth, clock):
    for _ in range(5):  # docs/security.md: "the first 5 wrong passwords are free"
        assert auth.login("admin", "nope nope nope").retry_after_s == 0
    sixth = auth.login("admin", "nope nope nope")
    assert sixth.retry_after_s == 30 and "locked" in sixth.error
    # locked: even the right password is refused without being checked
    locked = auth.login("admin", PW)
    assert locked.token is None and "Too many" in locked.error
    clock.advance(31)
    seventh = auth.login("admin", "nope nope nope")
    assert seventh.retry_after_s == 60
    clock.advance(61)
    ok = auth.login("admin", PW)
    assert ok.token is not None
    assert auth.throttle.failures("admin") == 0


def test_parallel_guesses_get_no_more_checks_than_the_documented_free_ones(auth, monkeypatch):
    """40 simultaneous logins: the lock is reserved before the password check, so at most the
    5 free attempts plus the one that starts the lock reach argon2; the rest are refused
    unchecked, and a correct password during the lock fails too."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    checked, gate = [], threading.Barrier(40)
    real_verify = auth.accounts.verify

    def counting_verify(name, password):
        checked.append(name)
        return real_verify(name, password)

    monkeypatch.setattr(auth.accounts, "verify", counting_verify)

    def attempt(i):
        gate.wait()  # release all 40 at the same moment
        return auth.login("admin", f"wrong guess {i:02d}")

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(attempt, range(40)))
    assert len(checked) <= 6, f"{len(checked)} passwords were checked"
    throttled = [r for r in results if "Too many wrong passwords" in r.error]
    assert len(throttled) == 40 - len(checked)
    assert auth.throttle.locked_for("admin") > 0
    during_lock = auth.login("admin", PW)
    assert during_lock.token is None and "Too many wrong passwords" in during_lock.error


def test_throttling_survives_a_restart(tmp_path, clock):
    a = Auth(tmp_path / "auth", clock=clock)
    a.setup_admin("admin", PW)
    for _ in range(6):
        a.login("admin", "wrong wrong wrong")
    restarted = Auth(tmp_path / "auth", clock=clock)
    assert restarted.login("admin", PW).token is None
    assert restarted.throttle.locked_for("admin") == 30


def test_unknown_usernames_are_throttled_too(auth):
    for _ in range(6):
        auth.login("ghost", "x" * 12)
    assert auth.throttle.locked_for("ghost") > 0
    assert auth.throttle.locked_for("admin") == 0


def test_lock_is_capped(auth, clock):
    for _ in range(20):
        auth.login("ghost", "x" * 12)
        clock.advance(10_000)
    auth.login("ghost", "x" * 12)
    assert auth.throttle.locked_for("ghost") == 900


# ---------------------------------------------------------------- login sessions
def test_session_expires_after_idle_time_but_not_while_active(auth, clock):
    token = auth.login("admin", PW).token
    for _ in range(5):  # active every 9 minutes: stays valid past 10 minutes in total
        clock.advance(9 * 60)
        assert auth.principal(token) is not None
    clock.advance(10 * 60 + 1)
    assert auth.principal(token) is None
    assert auth.principal(token) is None  # gone for good


def test_session_has_a_maximum_age(auth, clock):
    token = auth.login("admin", PW).token
    for _ in range(7):
        clock.advance(9 * 60)
        auth.principal(token)
    assert auth.principal(token) is None  # 63 min > 1 h, though never idle


def test_logout_revokes_the_token(auth):
    token = auth.login("admin", PW).token
    auth.logout(token)
    assert auth.principal(token) is None
    assert auth.principal("forged-token") is None and auth.principal(None) is None


# ---------------------------------------------------------------- roles and assignments
def test_role_permission_table(auth):
    adm = admin(auth)
    auth.create_account(adm, "psy", PW, Role.PSYCHOLOGIST)
    auth.create_account(adm, "view", PW, Role.VIEWER)
    psy, view = Principal("psy", Role.PSYCHOLOGIST), Principal("view", Role.VIEWER)
    auth.set_assignment(adm, "p01", "psy", True)
    auth.set_assignment(adm, "p01", "view", True)
    for perm in Perm:
        assert auth.can(adm, perm, "p01") and auth.can(adm, perm, "p02")
    assert {p for p in Perm if auth.can(psy, p, "p01")} == {
        Perm.VIEW, Perm.DOWNLOAD, Perm.RECORD, Perm.ANNOTATE}
    assert {p for p in Perm if auth.can(view, p, "p01")} == {Perm.VIEW}
    assert not any(auth.can(psy, p, "p02") for p in Perm)
    assert not any(auth.can(view, p, "p02") for p in Perm)
    assert auth.allowed_subjects(adm) is None and auth.allowed_subjects(psy) == {"p01"}
    with pytest.raises(PermissionError):
        auth.create_account(psy, "eve", PW, Role.ADMIN)
    assert auth.accounts.get("eve") is None
    auth.set_assignment(adm, "p01", "psy", False)
    assert not auth.can(psy, Perm.VIEW, "p01")


def test_recording_a_new_subject_assigns_it_but_never_someone_elses(auth):
    adm = admin(auth)
    auth.create_account(adm, "psy", PW, Role.PSYCHOLOGIST)
    auth.create_account(adm, "psy2", PW, Role.PSYCHOLOGIST)
    auth.create_account(adm, "view", PW, Role.VIEWER)
    psy, psy2 = Principal("psy", Role.PSYCHOLOGIST), Principal("psy2", Role.PSYCHOLOGIST)
    assert auth.claim_subject(psy, "new-1", exists=False) is None
    assert auth.can(psy, Perm.VIEW, "new-1")
    assert "not assigned" in auth.claim_subject(psy2, "new-1", exists=False)
    assert "not assigned" in auth.claim_subject(psy2, "old-1", exists=True)
    assert "role" in auth.claim_subject(Principal("view", Role.VIEWER), "x-1", exists=False)
    assert not auth.can(psy2, Perm.VIEW, "new-1") and not auth.can(psy2, Perm.VIEW, "old-1")


# ---------------------------------------------------------------- audit log
def test_audit_entries_are_appended_fsynced_and_never_rewritten(auth, clock):
    files = auth.audit.files()
    before = files[0].read_bytes()
    auth.login("admin", "bad password!")
    auth.audit.write("admin", "view", "subject=p01", page="History")
    clock.advance(86_400)  # a new UTC day: a new file
    auth.audit.write("admin", "download", "subject=p01 session=s-a", file="x.csv")
    after = auth.audit.files()
    assert len(after) == 2
    assert after[0].read_bytes().startswith(before), "existing lines were rewritten"
    entries = list(auth.audit.entries())
    assert [e["action"] for e in entries] == ["account_create", "login", "login_failed",
                                               "view", "download"]
    last = entries[-1]
    assert last["user"] == "admin" and last["target"] == "subject=p01 session=s-a"
    assert last["time"] == "2026-11-28T12:00:00.000+00:00"
    assert last["details"] == {"file": "x.csv"}
    assert auth.audit.verify() == []


def test_audit_tampering_is_detected(auth):
    auth.audit.write("admin", "view", "subject=p01")
    auth.audit.write("admin", "delete", "subject=p01")
    path = auth.audit.files()[0]
    lines = path.read_text().splitlines(keepends=True)
    entry = json.loads(lines[2])
    entry["target"] = "subject=somebody-else"
    lines[2] = json.dumps(entry, sort_keys=True) + "\n"
    path.write_text("".join(lines))
    assert auth.audit.verify() and "chain broken" in auth.audit.verify()[0]
    del lines[2]
    path.write_text("".join(lines))
    assert auth.audit.verify()


def _last_line_edit(path, change):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(change(lines)))


def test_audit_tail_edit_delete_or_truncation_is_detected(auth):
    """The last line (who erased a subject) is protected by the anchor outside audit/."""
    auth.audit.write("admin", "view", "subject=p01")
    auth.audit.write("admin", "delete", "subject=p01")
    path = auth.audit.files()[0]
    original = path.read_bytes()
    assert auth.audit.verify() == []

    def edit(lines):
        entry = json.loads(lines[-1])
        entry["user"] = "somebody-else"
        return [*lines[:-1], json.dumps(entry, sort_keys=True) + "\n"]

    for change in (edit, lambda lines: lines[:-1], lambda lines: [*lines[:-1], lines[-1][:40]]):
        _last_line_edit(path, change)
        problems = auth.audit.verify()
        assert problems and "end of log" in problems[-1], change
        path.write_bytes(original)
        assert auth.audit.verify() == []


def test_audit_tampering_stays_visible_after_the_app_writes_again(auth):
    auth.audit.write("admin", "delete", "subject=p01")
    path = auth.audit.files()[0]
    _last_line_edit(path, lambda lines: lines[:-1])  # delete the erasure entry
    auth.audit.write("admin", "view", "subject=p02")
    assert auth.audit.verify(), "a deleted last line was healed by the next entry"
    auth.audit.write("admin", "delete", "subject=p03")
    path2 = auth.audit.files()[0]
    _last_line_edit(path2, lambda lines: [*lines[:-1], lines[-1].replace("p03", "p04")])
    auth.audit.write("admin", "view", "subject=p05")
    assert any("chain broken" in p for p in auth.audit.verify())


def test_audit_lines_longer_than_64_kib_verify(auth):
    auth.audit.write("admin", "import", "subject=p01", note="x" * 200_000)
    auth.audit.write("admin", "view", "subject=p01")
    assert auth.audit.verify() == []


def test_audit_crash_between_append_and_anchor_update_is_not_tampering(auth):
    anchor = auth.audit.anchor_path.read_bytes()
    auth.audit.write("admin", "view", "subject=p01")
    auth.audit.anchor_path.write_bytes(anchor)  # as if killed before the anchor was replaced
    assert auth.audit.verify() == []
    auth.audit.write("admin", "view", "subject=p02")
    assert auth.audit.verify() == []


def test_audit_of_denied_admin_action(auth):
    auth.create_account(admin(auth), "psy", PW, Role.PSYCHOLOGIST)
    with pytest.raises(PermissionError):
        auth.set_assignment(Principal("psy", Role.PSYCHOLOGIST), "p01", "psy", True)
    denied = auth.audit.read(action="denied")
    assert denied[-1]["user"] == "psy" and denied[-1]["target"] == "manage_accounts"


# ---------------------------------------------------------------- consent
def test_consent_record_checks():
    good = {"given": True, "text": "I agree", "at": "2026-11-27T10:00:00+00:00",
            "subject": "p01", "obtained_by": "psy"}
    assert consent_problem(good) is None and require_consent(good) is good
    for bad, why in [(None, "no consent"), ({**good, "given": False}, "not given"),
                     ({**good, "text": " "}, "text"), ({**good, "at": "yesterday"}, "time"),
                     ({**good, "at": "2026-11-27T10:00:00"}, "zone")]:
        assert why in consent_problem(bad)
        with pytest.raises(ConsentError):
            require_consent(bad)


# ---------------------------------------------------------------- erasure
def _files_mentioning(root, *needles: str) -> list[str]:
    hits = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                data = fh.read()
            if any(n.encode() in data or n in path for n in needles):
                hits.append(path)
    return hits


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "logs"
    write_session(root, "p01", "s-a", session_a_rows(), notes="private note about p01",
                  consent={"given": True, "text": "ok", "at": "2026-11-02T09:00:00+00:00"})
    write_session(root, "p01", "s-b", session_b_rows())
    write_session(root, "p02", "s-x", session_b_rows())
    LogStore(root).add_marker("p01", "s-a", "task 2")
    return LogStore(root)


def test_erasing_a_session_leaves_no_file_and_no_row(store, tmp_path):
    media = tmp_path / "media"
    (media / "p01").mkdir(parents=True)
    (media / "p01" / "s-a.avi").write_bytes(b"video")
    (media / "p01" / "s-b.avi").write_bytes(b"other video")
    removed = erase_session(store, "p01", "s-a", media)
    assert "video s-a.avi" in removed
    assert _files_mentioning(store.root, "session=s-a", "private note", "task 2") == []
    assert not (media / "p01" / "s-a.avi").exists() and (media / "p01" / "s-b.avi").exists()
    assert store.read(subject="p01", session="s-a").empty
    assert set(store.read(subject="p01")["session"]) == {"s-b"}
    assert "s-a" not in set(store.list_sessions()["session"])
    with pytest.raises(SessionNotFoundError):
        erase_session(store, "p01", "s-a", media)


def test_erasing_a_subject_leaves_no_file_and_no_row(store, tmp_path):
    media = tmp_path / "media"
    (media / "p01").mkdir(parents=True)
    (media / "p01" / "s-a.avi").write_bytes(b"video")
    erase_subject(store, "p01", media)
    assert _files_mentioning(store.root, "p01") == []
    assert _files_mentioning(tmp_path / "media", "p01") == [] and not (media / "p01").exists()
    assert set(store.read()["subject"]) == {"p02"}
    assert set(store.list_subjects()["subject"]) == {"p02"}
    assert store.read(subject="p01").empty


def test_erasure_that_leaves_a_file_behind_is_an_error(store, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # a disk that refuses
    with pytest.raises(ErasureError, match="left"):
        erase_subject(store, "p01", tmp_path / "media")


def test_video_path_outside_the_media_folder_is_never_deleted(tmp_path):
    root = tmp_path / "logs"
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    write_session(root, "p09", "s-1", session_b_rows(), extra={"video_file": str(outside)})
    erase_session(LogStore(root), "p09", "s-1", tmp_path / "media")
    assert outside.read_text() == "keep"


# ---------------------------------------------------------------- configuration
def test_auth_dir_is_beside_the_log_root_never_inside(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_AUTH_DIR", raising=False)
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path / "store"))
    assert auth_dir() == tmp_path / ".fer_auth"
    monkeypatch.setenv("FER_AUTH_DIR", str(tmp_path / "elsewhere"))
    assert auth_dir() == tmp_path / "elsewhere"


@pytest.mark.subprocess
def test_library_imports_no_streamlit():
    code = ("import sys, fer_core.auth; bad = [m for m in ('streamlit', 'torch', 'cv2') "
            "if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- command line
def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", "auth", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.subprocess
def test_cli_resets_a_password_unlocks_and_verifies(tmp_path):
    directory = tmp_path / "auth"
    a = Auth(directory)
    a.setup_admin("admin", PW)
    for _ in range(6):
        a.login("admin", "wrong wrong wrong")
    assert "admin\tadmin\tactive" in _cli("--dir", str(directory), "list").stdout
    bad = _cli("--dir", str(directory), "reset-password", "admin", stdin="short\n")
    assert bad.returncode == 2 and "at least 10" in bad.stderr
    ok = _cli("--dir", str(directory), "reset-password", "admin", stdin="a brand new secret\n")
    assert ok.returncode == 0, ok.stderr
    assert _cli("--dir", str(directory), "unlock", "admin").returncode == 0
    b = Auth(directory)
    assert b.login("admin", PW).token is None
    assert b.login("admin", "a brand new secret").token is not None
    assert _cli("--dir", str(directory), "verify-audit").returncode == 0
    assert _cli("--dir", str(directory), "reset-password", "ghost",
                stdin="a brand new secret\n").returncode == 2
    path = b.audit.files()[0]
    path.write_text(path.read_text().replace('"login_failed"', '"login"', 1))
    tampered = _cli("--dir", str(directory), "verify-audit")
    assert tampered.returncode == 1 and "ALTERED" in tampered.stdout


def test_a_huge_guessed_username_is_stored_capped(auth):
    auth.login("x" * 100_000, "wrong wrong wrong")
    entry = auth.audit.read(action="login_failed")[-1]
    assert len(entry["user"]) == 100
    assert (auth.dir / "throttle.json").stat().st_size < 1000


def test_one_erasure_checks_erases_unassigns_and_audits(auth, store, tmp_path):
    """`Auth.erase` is the erasure both the Admin page and the command line run."""
    auth.create_account(admin(auth), "viewer1", PW, Role.VIEWER)
    auth.set_assignment(admin(auth), "p01", "viewer1", True)
    viewer = Principal("viewer1", Role.VIEWER)
    with pytest.raises(PermissionError):
        auth.erase(viewer, store, "p01")
    assert auth.audit.read(action="denied")[-1]["user"] == "viewer1"
    assert "p01" in set(store.list_subjects()["subject"])  # nothing went
    media = tmp_path / "media"
    removed = auth.erase(admin(auth), store, "p01", "s-a", media)
    assert removed == ["log store session p01/s-a"]
    assert auth.assignments.subjects_of("viewer1") == {"p01"}  # a session leaves assignments
    auth.erase(admin(auth), store, "p01", media=media)
    assert "p01" not in set(store.list_subjects()["subject"])
    assert auth.assignments.subjects_of("viewer1") == set()
    done = auth.audit.read(action="delete")
    assert [(e["user"], e["target"]) for e in done[-2:]] == [
        ("admin", "subject=p01 session=s-a"), ("admin", "subject=p01")]
    with pytest.raises(SessionNotFoundError):
        auth.erase("cli:someone", store, "p01", "s-b", media)
    failed = auth.audit.read(action="delete_failed")[-1]
    assert failed["user"] == "cli:someone" and failed["target"] == "subject=p01 session=s-b"


@pytest.mark.subprocess
def test_cli_erases_a_session_only_when_confirmed(tmp_path, store):
    directory = tmp_path / "auth"
    Auth(directory).setup_admin("admin", PW)
    args = ["--dir", str(directory), "erase", "--root", str(store.root), "--subject", "p01",
            "--session", "s-a"]  # fmt: skip
    refused = _cli(*args)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert "s-a" in set(store.list_sessions("p01")["session"])
    ok = _cli(*args, "--yes")
    assert ok.returncode == 0, ok.stderr
    assert "erased p01/s-a" in ok.stdout
    assert set(store.list_sessions("p01")["session"]) == {"s-b"}
    entry = Auth(directory).audit.read(action="delete")[-1]
    assert entry["user"].startswith("cli:") and entry["target"] == "subject=p01 session=s-a"
    again = _cli(*args, "--yes")
    assert again.returncode == 1 and "not erased" in again.stderr
