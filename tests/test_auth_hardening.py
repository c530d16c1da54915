"""Issue 23, fer_core.auth side: the subject-claim race, the audit anchor, damaged audit lines
and the time order of audit lines written in parallel. Real files in tmp_path, real threads
and processes; no sleeps.
"""

from __future__ import annotations

import itertools
import multiprocessing
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from fer_core.auth import Auth, Principal, Role

PW = "correct horse battery"
ADMIN = Principal("admin", Role.ADMIN)
PSY_A = Principal("psy-a", Role.PSYCHOLOGIST)
PSY_B = Principal("psy-b", Role.PSYCHOLOGIST)


@pytest.fixture
def auth_path(tmp_path) -> Path:
    directory = tmp_path / "auth"
    auth = Auth(directory)
    auth.setup_admin("admin", PW)
    for who in (PSY_A, PSY_B):
        auth.create_account(ADMIN, who.username, PW, who.role)
    return directory


# ---------------------------------------------------------------------- claim race
TRIALS = 100


def _claim_many(directory: str, who: Principal, barrier, trials: int) -> list[str | None]:
    """Claim new-0..new-N, meeting the other claimant at the barrier before each claim."""
    auth = Auth(directory)  # each claimant its own Auth, as two app processes would have
    results = []
    for i in range(trials):
        barrier.wait(timeout=300)  # generous: a spawned process may import slowly on a busy machine
        results.append(auth.claim_subject(who, f"new-{i}", exists=False))
    return results


def _claim_worker(directory: str, username: str, barrier, queue, trials: int) -> None:
    queue.put((username, _claim_many(directory, Principal(username, Role.PSYCHOLOGIST),
                                     barrier, trials)))


def _check_one_winner(auth_path: Path, results: dict[str, list[str | None]], trials: int):
    auth = Auth(auth_path)
    shared = [i for i in range(trials) if all(res[i] is None for res in results.values())]
    assert not shared, f"{len(shared)} of {trials} new subjects were given to both claimants"
    for i in range(trials):
        won = [name for name, res in results.items() if res[i] is None]
        assert len(won) == 1, f"new-{i}: claimed by {won or 'nobody'}"
        loser = next(name for name in results if name not in won)
        assert "taken by another account" in results[loser][i]
        assert auth.assignments.users_of(f"new-{i}") == set(won), f"new-{i}"
    assert len(auth.audit.read(action="assign")) == trials
    assert len(auth.audit.read(action="denied")) == trials


def test_two_threads_claiming_the_same_new_subject_one_wins(auth_path):
    barrier = threading.Barrier(2)
    results: dict[str, list[str | None]] = {}

    def run(who: Principal) -> None:
        results[who.username] = _claim_many(str(auth_path), who, barrier, TRIALS)

    threads = [threading.Thread(target=run, args=(who,)) for who in (PSY_A, PSY_B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert set(results) == {"psy-a", "psy-b"}, "a claimant thread failed"
    _check_one_winner(auth_path, results, TRIALS)


@pytest.mark.subprocess
def test_two_processes_claiming_the_same_new_subject_one_wins(auth_path):
    trials = 60
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_claim_worker, args=(str(auth_path), who.username, barrier,
                                                     queue, trials))
             for who in (PSY_A, PSY_B)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    _check_one_winner(auth_path, results, trials)


def test_a_subject_with_data_or_an_owner_is_refused_and_audited(auth_path):
    auth = Auth(auth_path)
    assert auth.claim_subject(PSY_A, "p01", exists=False) is None
    assert auth.claim_subject(PSY_A, "p01", exists=True) is None  # one's own: still fine
    assert auth.claim_subject(PSY_B, "p01", exists=False)
    assert auth.claim_subject(PSY_B, "old", exists=True)
    denied = auth.audit.read(action="denied", user="psy-b")
    assert [e["target"] for e in denied] == ["subject=p01", "subject=old"]
    assert all(e["details"]["reason"] for e in denied)


# ---------------------------------------------------------------------- audit anchor
def _drop_last_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))


def test_deleting_the_anchor_with_the_last_line_is_detected_after_the_next_entry(auth_path):
    auth = Auth(auth_path)
    auth.audit.write("admin", "delete", "subject=p01")
    assert auth.audit.verify() == []
    _drop_last_line(auth.audit.files()[-1])  # who erased p01: gone
    auth.audit.anchor_path.unlink()
    auth.audit.anchor_path.with_name("audit-anchor.copy.json").unlink(missing_ok=True)
    assert any("missing" in p for p in auth.audit.verify())
    auth.audit.write("admin", "view", "subject=p02")  # the app goes on writing
    problems = auth.audit.verify()
    assert problems, "the next entry re-anchored the damaged log: chain looks intact"
    assert any("anchor was gone" in p for p in problems)
    for _ in range(3):  # and it stays visible
        auth.audit.write("admin", "view", "subject=p03")
    assert any("anchor was gone" in p for p in auth.audit.verify())


def test_deleting_only_the_anchor_is_caught_by_its_copy(auth_path):
    auth = Auth(auth_path)
    auth.audit.write("admin", "delete", "subject=p01")
    _drop_last_line(auth.audit.files()[-1])
    auth.audit.anchor_path.unlink()
    problems = auth.audit.verify()
    assert any("end of log" in p for p in problems)
    assert any("audit-anchor.json is missing" in p for p in problems)
    auth.audit.write("admin", "view", "subject=p02")
    assert any("chain broken" in p for p in auth.audit.verify())


@pytest.mark.subprocess
def test_a_truncated_last_line_is_one_line_of_tamper_report(auth_path):
    auth = Auth(auth_path)
    auth.audit.write("admin", "delete", "subject=p01")
    path = auth.audit.files()[-1]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:40])  # cut mid-line, no newline
    problems = auth.audit.verify()
    assert len(problems) == 1 and "truncated" in problems[0], problems
    entries = list(auth.audit.entries())  # no JSONDecodeError
    assert entries[-1]["action"] == "unreadable_line"
    cli = subprocess.run([sys.executable, "-m", "fer_core", "auth", "--dir", str(auth_path),
                          "verify-audit"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1, cli.stderr
    assert "Traceback" not in cli.stderr and "JSONDecodeError" not in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1 and "truncated" in cli.stderr
    assert "ALTERED" in cli.stdout
    # the app can still write after it (and the damage stays reported)
    auth.audit.write("admin", "view", "subject=p02")
    assert auth.audit.verify()


def test_a_garbled_anchor_is_reported_not_raised(auth_path):
    auth = Auth(auth_path)
    auth.audit.anchor_path.write_text('{"lines": 3, "la')
    problems = auth.audit.verify()
    assert any("audit-anchor.json is unreadable" in p for p in problems)
    auth.audit.write("admin", "view", "subject=p02")  # continues from the copy
    assert any("unreadable" in p for p in auth.audit.verify())


# ---------------------------------------------------------------------- time order
def test_parallel_audit_lines_are_in_time_order(auth_path):
    auth = Auth(auth_path)
    before = len(list(auth.audit.entries()))
    n_threads, per_thread = 8, 15
    barrier = threading.Barrier(n_threads)

    def writer(k: int) -> None:
        barrier.wait(timeout=300)  # generous: a spawned process may import slowly on a busy machine
        for i in range(per_thread):
            auth.audit.write(f"user{k}", "login", f"user=user{k}", i=i)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    times = [datetime.fromisoformat(e["time"]) for e in auth.audit.entries()]
    assert len(times) == before + n_threads * per_thread
    out_of_order = [(a, b) for a, b in itertools.pairwise(times) if b < a]
    assert not out_of_order, f"{len(out_of_order)} line(s) earlier than the line before"
    assert auth.audit.verify() == []
