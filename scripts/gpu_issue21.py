"""One GPU lease for issue 21: teachers, then distilled students, all inside a fixed wall budget.

Why a driver: a lent GPU comes for about 15 minutes once, and nobody knows beforehand how fast
these small networks train on it. So every run is first started for a few hundred images (which
also proves the commands work there), its epoch time is read from its own ``metrics.jsonl``, and
the real runs get as many epochs as fit the remaining budget. Every command actually run is
written to ``commands.txt``: the model cards quote them, and each one reruns unchanged on a CPU.

Phase 1 (side by side): the seed's network (``paper``), a second cosine cycle from the resume
file then committed (``resume/paper-v1-e40.pt``; removed since, restore it with ``git show
2feebe6:resume/paper-v1-e40.pt``), and a wide ``fast`` teacher. Phase 2 (side by side): ``fast``
students distilled from the ensemble of ``models/fast.pt`` and the two phase-1 models, with
camera augmentation (the teachers see the clean crop), with the seed-style strong augmentation,
and a camera run without a teacher as the comparison. Results land in ``$OUT`` (at most 8
files come back from a lease).

    python scripts/gpu_issue21.py --data DIR --work /tmp/work --out $OUT --budget 420

Round 3 (written in session 12, for the next lease): teachers with a clean hold-out. Every
teacher so far trained on all of Training, so each distilled student's hold-out had been learned
by its teachers (``calibrate`` now refuses it; ``fer_core/training/lineage.py`` says why), and no
temperature fitted there was honest. Round 3 trains three teachers side by side, ``paper``, a
wide ``fast`` and a ``fast`` of another seed, all holding out the same 10% of Training
(``--val-from-train 0.1 --holdout-seed 4``), for as many epochs as the budget fits; the student
is then distilled on the CPU from their cache (about 35 s an epoch on 2 cores) with the same
hold-out, and ``calibrate`` fits its temperature on faces no file in its lineage saw:

    tar -cJf data_local/fer2013.tar.xz -C ../shared/data fer2013      # about 30 MB, carried
    # on the device (carry: data_local), one call with timeout_s 600:
    python scripts/gpu_issue21.py --round 3 --data data_local/fer2013.tar.xz \
        --work /tmp/work --out $OUT --budget 480
    # back on the CPU, with the three returned files in runs/teachers-h/:
    python -m fer_core train --arch fast --arch-config '{"width": 24, "blocks": [1, 2, 2]}' \
        --dataset fer2013 --data ../shared/data/fer2013 --threads 2 --batch-size 128 --nesterov \
        --weight-decay 5e-4 --schedule cosine --label-smoothing 0 --ema 0.999 --select last \
        --lr 0.1 --warmup-epochs 2 --val-from-train 0.1 --holdout-seed 4 --seed 4 \
        --teacher runs/teachers-h/paper-h.pt --teacher runs/teachers-h/wide-h.pt \
        --teacher runs/teachers-h/fast-h.pt --kd-weight 0.7 --kd-temperature 4 --kd-cache \
        --augment camera --camera-p 0.35 --class-weight-power 0.25 --name fast --epochs 130 \
        --out runs/clean130
    python -m fer_core calibrate --weights runs/clean130/model.pt --data ../shared/data/fer2013 \
        --objective ece --out runs/clean130/calibrated.pt

(Session 13 did this at CPU scale, two CPU-trained `fast` teachers: the student's hold-out then
tracked PublicTest's ECE within 0.45 points at every temperature, and the ECE fit, not the NLL
fit, brought PublicTest under 3%; docs/reproduction.md. Session 14 added a third CPU `fast`
teacher: the three agree 69.741%, as two did, and their student ended at 68.543%, so the CPU
half needs this lease's stronger teachers.)
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tarfile
import time
from pathlib import Path

PY = [sys.executable, "-m", "fer_core"]
FAST = ["--arch", "fast", "--arch-config", '{"width": 24, "blocks": [1, 2, 2]}']
WIDE = ["--arch", "fast", "--arch-config", '{"width": 48, "blocks": [2, 2, 2]}']
SGD = ["--threads", "3", "--batch-size", "128", "--nesterov", "--weight-decay", "5e-4",
       "--schedule", "cosine", "--label-smoothing", "0.1", "--ema", "0.999",
       "--select", "last"]  # fmt: skip


def plans(data: str, work: Path) -> dict[str, dict]:
    """Each run: its phase, arguments (no --epochs or --out), and the most epochs worth running."""
    common = ["--dataset", "fer2013", "--data", data, *SGD]
    teachers = ["--teacher", "models/fast.pt", "--teacher", str(work / "paper-v2" / "model.pt"),
                "--teacher", str(work / "wide" / "model.pt")]  # fmt: skip
    student = [*FAST, *common, "--lr", "0.1", "--warmup-epochs", "2", "--val-from-train", "0.05"]
    kd = [*teachers, "--kd-weight", "0.7", "--kd-temperature", "4"]
    return {
        "paper-v2": dict(phase=1, cap=80, args=[
            "--arch", "paper", *common, "--init-from", "resume/paper-v1-e40.pt", "--lr", "0.05",
            "--warmup-epochs", "1", "--augment", "strong", "--name", "paper", "--seed", "1"]),
        "wide": dict(phase=1, cap=120, args=[
            *WIDE, *common, "--lr", "0.1", "--warmup-epochs", "2", "--augment", "strong",
            "--name", "fast-wide", "--seed", "2"]),
        "s-camera-kd": dict(phase=2, cap=300, args=[
            *student, "--augment", "camera", *kd, "--name", "fast", "--seed", "3"]),
        "s-strong-kd": dict(phase=2, cap=300, args=[
            *student, "--augment", "strong", *kd, "--name", "fast", "--seed", "3"]),
        "s-camera": dict(phase=2, cap=300, args=[
            *student, "--augment", "camera", "--name", "fast", "--seed", "3"]),
    }  # fmt: skip


def round2(data: str, gpu: Path) -> dict[str, dict]:
    """Second lease call, epochs fixed from round 1's measured times (2-4 s an epoch there).

    Round 1's probes over-estimated epoch times threefold (start-up counted), so its runs were
    short: ``paper`` reached 67.6% (PublicTest, centre crop) after 21 epochs and the wide teacher
    stayed weak. Round 2 continues ``paper`` from round 1's weights and distils students from the
    ensemble of ``models/fast.pt`` and that ``paper``.
    """
    common = ["--dataset", "fer2013", "--data", data, *SGD]
    paper = str(gpu / "paper-v2.pt")
    student = [*FAST, *common, "--lr", "0.1", "--warmup-epochs", "2", "--val-from-train", "0.05",
               "--teacher", "models/fast.pt", "--teacher", paper, "--kd-weight", "0.7",
               "--kd-temperature", "4", "--name", "fast", "--seed", "4"]  # fmt: skip
    return {
        "paper-v3": dict(phase=1, epochs=60, args=[
            "--arch", "paper", *common, "--init-from", paper, "--lr", "0.02",
            "--warmup-epochs", "1", "--augment", "strong", "--name", "paper", "--seed", "5"]),
        "s2-strong-kd": dict(phase=1, epochs=75, args=[*student, "--augment", "strong"]),
        "s2-camera-kd": dict(phase=1, epochs=75, args=[*student, "--augment", "camera"]),
    }  # fmt: skip


def round3(data: str) -> dict[str, dict]:
    """Teachers that never see the 10% hold-out a later student calibrates on (one phase)."""
    common = ["--dataset", "fer2013", "--data", data, *SGD, "--val-from-train", "0.1",
              "--holdout-seed", "4", "--warmup-epochs", "2", "--augment", "strong"]  # fmt: skip
    return {
        "paper-h": dict(phase=1, cap=150, args=[
            "--arch", "paper", *common, "--lr", "0.05", "--name", "paper", "--seed", "1"]),
        "wide-h": dict(phase=1, cap=200, args=[
            *WIDE, *common, "--lr", "0.1", "--name", "fast-wide", "--seed", "2"]),
        "fast-h": dict(phase=1, cap=200, args=[
            *FAST, *common, "--lr", "0.1", "--name", "fast", "--seed", "5"]),
    }  # fmt: skip


def launch(name: str, args: list[str], out: Path, log_dir: Path) -> subprocess.Popen:
    cmd = [*PY, "train", *args, "--out", str(out)]
    with (log_dir / "commands.txt").open("a") as fh:
        fh.write(f"[{name}] {shlex.join(cmd[1:])}\n")
    log = (log_dir / f"{name}.log").open("w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def wait_all(procs: dict[str, subprocess.Popen], deadline: float) -> dict[str, int]:
    codes = {}
    for name, p in procs.items():
        try:
            codes[name] = p.wait(timeout=max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            p.kill()
            codes[name] = -9
            print(f"{name}: killed at the phase deadline", flush=True)
    return codes


def epoch_seconds(run: Path, limit: int) -> float:
    """Seconds one full epoch (train + validation) takes, from a --limit run's first epoch."""
    rec = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    return rec["train_time_s"] * limit + rec["val_time_s"]


def run_phase(phase: int, todo: dict[str, dict], work: Path, logs: Path, budget: float,
              limit: int, smoke_epochs: int | None) -> dict[str, int]:  # fmt: skip
    """Time each run on 1/limit of the data side by side, then run them for what fits ``budget``."""
    t0 = time.time()
    names = [n for n, p in todo.items() if p["phase"] == phase]
    probes = {n: launch(f"{n}-probe", [*todo[n]["args"], "--epochs", "1", "--limit", str(limit)],
                        work / f"{n}-probe", logs) for n in names}  # fmt: skip
    codes = wait_all(probes, time.time() + 240)
    if any(codes.values()):
        raise SystemExit(f"phase {phase} probes failed: {codes} (see the logs)")
    secs = {n: epoch_seconds(work / f"{n}-probe", limit) for n in names}
    left = budget - (time.time() - t0)
    epochs = {}
    for n in names:
        fit = int(left * 0.9 / secs[n]) if smoke_epochs is None else smoke_epochs
        epochs[n] = max(1, min(todo[n]["cap"], fit))
    rounded = {n: round(s, 2) for n, s in secs.items()}
    print(f"phase {phase}: probe {time.time() - t0:.0f}s, epoch seconds {rounded}, "
          f"epochs {epochs}", flush=True)  # fmt: skip
    extra = [] if smoke_epochs is None else ["--limit", str(limit)]
    procs = {n: launch(n, [*todo[n]["args"], "--epochs", str(epochs[n]), *extra], work / n, logs)
             for n in names}  # fmt: skip
    codes = wait_all(procs, t0 + budget + 30)
    print(f"phase {phase}: done in {time.time() - t0:.0f}s, exit codes {codes}", flush=True)
    return codes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="FER2013 folder, or a .tar.xz holding fer2013/")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget", type=float, default=420.0, help="wall seconds for both phases")
    ap.add_argument("--limit", type=int, default=4, help="probe on every k-th training image")
    ap.add_argument("--smoke", action="store_true", help="1 epoch each on 1/limit of the data")
    ap.add_argument("--round", type=int, default=1,
                    help="2: the fixed-epoch second call; 3: teachers with a clean hold-out")
    ap.add_argument("--gpu-files", type=Path, default=Path(".gpu"), help="round 1's results")
    a = ap.parse_args()
    start = time.time()
    a.work.mkdir(parents=True, exist_ok=True)
    a.out.mkdir(parents=True, exist_ok=True)
    data = a.data
    if data.endswith(".tar.xz"):
        with tarfile.open(data) as tar:
            tar.extractall(a.work / "data", filter="data")
        data = str(a.work / "data" / "fer2013")
        print(f"unpacked in {time.time() - start:.0f}s", flush=True)
    logs = a.work / "logs"
    logs.mkdir(exist_ok=True)
    if a.round == 3:
        todo = round3(data)
        run_phase(1, todo, a.work, logs, a.budget - (time.time() - start), a.limit,
                  1 if a.smoke else None)  # fmt: skip
        pack(a.work, a.out, todo)
        print(f"all done in {time.time() - start:.0f}s", flush=True)
        return 0
    if a.round == 2:
        todo = round2(data, a.gpu_files)
        extra = ["--limit", str(a.limit)] if a.smoke else []
        procs = {n: launch(n, [*p["args"], "--epochs", str(1 if a.smoke else p["epochs"]), *extra],
                           a.work / n, logs) for n, p in todo.items()}  # fmt: skip
        print(f"round 2: exit codes {wait_all(procs, start + a.budget)}", flush=True)
        pack(a.work, a.out, todo)
        print(f"all done in {time.time() - start:.0f}s", flush=True)
        return 0
    todo = plans(data, a.work)
    smoke = 1 if a.smoke else None
    half = a.budget * 0.45
    codes = run_phase(1, todo, a.work, logs, half, a.limit, smoke)
    if codes.get("paper-v2") or codes.get("wide"):
        print("a teacher failed: phase 2 distils from what exists", flush=True)
        for n in ("s-camera-kd", "s-strong-kd"):
            args = todo[n]["args"]
            for t in ("paper-v2", "wide"):
                path = str(a.work / t / "model.pt")
                if not Path(path).exists():
                    i = args.index(path)
                    del args[i - 1 : i + 1]
    rest = a.budget - (time.time() - start)
    run_phase(2, todo, a.work, logs, rest, a.limit, smoke)
    pack(a.work, a.out, todo)
    print(f"all done in {time.time() - start:.0f}s", flush=True)
    return 0


def pack(work: Path, out: Path, todo: dict[str, dict]) -> None:
    """Model files (fp16 for the big ones: a lease returns files of at most 16 MiB) and logs."""
    import torch

    for name in todo:
        model = work / name / "model.pt"
        if not model.exists():
            continue
        payload = torch.load(model, map_location="cpu", weights_only=False)
        if name in ("paper-v2", "wide", "paper-v3", "paper-h", "wide-h"):
            payload["state_dict"] = {k: v.half() if v.is_floating_point() else v
                                     for k, v in payload["state_dict"].items()}  # fmt: skip
            payload.setdefault("meta", {})["stored_fp16_on_gpu_host"] = True
        torch.save(payload, out / f"{name}.pt")
    with tarfile.open(out / "runs.tar.gz", "w:gz") as tar:
        for name in todo:
            for f in ("metrics.jsonl", "summary.json"):
                if (work / name / f).exists():
                    tar.add(work / name / f, arcname=f"{name}/{f}")
        tar.add(work / "logs", arcname="logs")
    print(f"packed: {sorted(p.name for p in out.iterdir())}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
