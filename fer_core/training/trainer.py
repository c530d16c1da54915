"""Training loop: SGD with momentum, a schedule, per-epoch checkpoints, ``--resume``, metrics.

The whole training set is prepared once by :func:`fer_core.preprocess_torch.prepare_faces` (the same
function every inference path uses: equalisation, normalisation) and lives on the device as one
float tensor; a batch is an index and a batched augmentation, so on a 2-core CPU the network is the
only real cost and on a GPU nothing waits on a data loader. On CPUs with bfloat16 matrix units
(AVX512-BF16/AMX) ``amp`` runs the network in bfloat16, about twice as fast as float32 here.
Model selection uses the validation set given (PublicTest
or a split carved out of train), never a test split that gets reported.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from fer_core.data.faceset import FaceSet
from fer_core.models.architectures import count_macs, count_params, create_model
from fer_core.models.file_format import save_model
from fer_core.preprocess import Preprocess
from fer_core.preprocess_torch import predict_proba, prepare_faces
from fer_core.training import sam
from fer_core.training.distill import Teachers, distillation_loss
from fer_core.training.teacher_cache import CACHE_FILE, load_or_build
from fer_core.transforms import (
    apply_affine,
    apply_erasing,
    random_affine_crop_flip,
    random_affine_theta,
    random_camera,
    random_crop_flip,
    random_erasing,
    random_erasing_mask,
)

log = logging.getLogger(__name__)

CHECKPOINT = "last.ckpt"
BEST_MODEL = "model.pt"
METRICS = "metrics.jsonl"


@dataclass
class TrainConfig:
    """Hyper-parameters of one run; stored in checkpoints and model files for reproduction."""

    arch: str = "paper"
    arch_config: dict[str, Any] = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    schedule: str = "step"  # step (the lineage's decay), cosine, or plateau
    step_start: int = 80  # step: the lineage's decay starts after this epoch
    step_every: int = 5
    step_gamma: float = 0.9
    warmup_epochs: int = 0
    augment: str = "seed"  # seed: random crop + flip; strong: affine + flip + erasing
    camera_p: float = 0.2  # camera: probability of each degradation (blur, low res, JPEG, noise)
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    seed: int = 0
    val_tencrop: bool = False
    equalize: bool = True  # histogram-equalise every face (Preprocess.equalize)
    amp: bool = True  # bfloat16 autocast on CPU, float16 on CUDA
    ema_decay: float = 0.0  # > 0: evaluate and save an exponential moving average of the weights
    class_weight_power: float = 0.0  # loss weight of class c ~ (1 / count_c) ** power
    init_from: str = ""  # start from these weights (a model file or a last.ckpt)
    teachers: list[str] = field(default_factory=list)  # model files to distil from (mean probs)
    kd_weight: float = 0.5  # loss = (1 - w) * cross-entropy + w * distillation
    kd_temperature: float = 4.0
    kd_cache: bool = False  # teachers run once over the clean faces (teacher_cache), not per batch
    sam_rho: float = 0.0  # > 0: sharpness-aware steps (fer_core.training.sam), twice the work
    select: str = "best"  # best: keep the epoch with the best validation accuracy; last: the last
    name: str = ""
    version: str = "1.0"


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def lr_at(cfg: TrainConfig, epoch: int, step_frac: float = 0.0) -> float:
    """Learning rate for (fractional) ``epoch`` under cfg's schedule (plateau handled outside)."""
    e = epoch + step_frac
    if cfg.warmup_epochs and e < cfg.warmup_epochs:
        return cfg.lr * max(e / cfg.warmup_epochs, 0.01)
    if cfg.schedule == "cosine":
        span = max(cfg.epochs - cfg.warmup_epochs, 1)
        t = (e - cfg.warmup_epochs) / span
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if cfg.schedule == "step":
        if epoch < cfg.step_start:
            return cfg.lr
        return cfg.lr * cfg.step_gamma ** ((epoch - cfg.step_start) // cfg.step_every + 1)
    return cfg.lr  # plateau: scaled by the plateau factor kept in the trainer state


#: augmentation recipes (``--augment``): seed (the paper's crop + flip), strong (affine, flip,
#: erasing), camera (strong with rotations up to 30 degrees, after camera-like degradations)
AUGMENTATIONS = ("seed", "strong", "camera")


def _augment(
    x: torch.Tensor,
    cfg: TrainConfig,
    gen: torch.Generator,
    pre: Preprocess,
    *,
    clean_view: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(the student's augmented batch, the teacher's view of it or None).

    With ``clean_view`` (distillation), ``camera`` also returns the same crop, rotation, flip and
    erased rectangle of the *undegraded* faces: the teachers then label what the face shows, and
    the student learns to give that answer through blur, low resolution, JPEG and noise, instead
    of copying a teacher's confusion about a degraded face. The other recipes degrade nothing,
    so their teacher view is the student's batch itself (None).
    """
    if cfg.augment == "seed":
        return random_crop_flip(x, generator=gen), None
    if cfg.augment == "strong":
        x = random_affine_crop_flip(x, generator=gen)
        return random_erasing(x, generator=gen), None
    if cfg.augment == "camera":
        degraded = random_camera(
            x, pixel_mean=pre.mean, pixel_std=pre.std, p=cfg.camera_p, generator=gen
        )
        theta = random_affine_theta(x.shape[0], x.shape[-1], max_rotate_deg=30.0, generator=gen)
        student = apply_affine(degraded, theta)
        mask, noise = random_erasing_mask(student.shape, generator=gen)
        student = apply_erasing(student, mask, noise)
        if not clean_view:
            return student, None
        return student, apply_erasing(apply_affine(x, theta), mask, noise)
    raise ValueError(f"unknown augmentation {cfg.augment!r} ({', '.join(AUGMENTATIONS)})")


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


@dataclass
class _Run:
    """What one training run works with: built once by :func:`_build_run`, used by every epoch."""

    cfg: TrainConfig
    dev: torch.device
    net: nn.Module
    ema: AveragedModel | None
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    pre: Preprocess
    amp_dtype: torch.dtype | None
    gen: torch.Generator
    macs: int
    params: int
    teachers: Teachers | None = None
    kd_targets: torch.Tensor | None = None  # (N, classes) cached teacher probabilities
    class_weight: torch.Tensor | None = None

    @property
    def final(self) -> nn.Module:
        """The network that is validated and saved: the weight average when there is one."""
        return self.ema.module if self.ema is not None else self.net


@dataclass
class _Progress:
    """Where a run stands; checkpointed every epoch so ``--resume`` continues exactly."""

    start_epoch: int = 0
    best_acc: float = -1.0
    best_epoch: int = -1
    plateau_scale: float = 1.0
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def fit(
    train: FaceSet,
    val: FaceSet,
    cfg: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    device: str | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``cfg.arch`` on ``train``, select on ``val``; return a summary dict.

    Writes ``last.ckpt`` every epoch (for ``resume``), ``model.pt`` (a model file) whenever the
    validation accuracy improves (``select='best'``) or every epoch (``select='last'``, for
    protocols such as CK+ folds where the held-out fold is the test set and must not select, and
    for fixed-length schedules whose last epoch is the model), and one JSON line per epoch to
    ``metrics.jsonl``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = _build_run(cfg, train, pick_device(device))
    progress = _Progress()
    ckpt_path = out / CHECKPOINT
    if resume and ckpt_path.exists():
        progress = _restore(run, ckpt_path)
    elif resume:
        log.info("no checkpoint in %s; starting from scratch", out)
    _attach_teachers(run, train, out)
    run.class_weight = _class_weights(train, cfg.class_weight_power, run.dev)
    # prepared once with the inference paths' own function; augmentation crops per batch
    images = prepare_faces(train.images, run.pre).to(run.dev)
    labels = torch.from_numpy(train.labels).to(run.dev)
    val_pre = replace(run.pre, test_crops="ten" if cfg.val_tencrop else "center")
    for epoch in range(progress.start_epoch, cfg.epochs):
        record = _train_epoch(run, images, labels, epoch, progress.plateau_scale)
        t1 = time.time()
        val_acc = _validate(run, val, val_pre)
        record.update(val_acc=val_acc, val_tencrop=cfg.val_tencrop,
                      val_time_s=round(time.time() - t1, 2))  # fmt: skip
        _step_plateau(cfg, progress, val_acc)
        _log_epoch(out, progress, record, cfg.epochs)
        if val_acc > progress.best_acc or cfg.select == "last":
            progress.best_acc, progress.best_epoch = val_acc, epoch + 1
            _save_model_file(run, out / BEST_MODEL, train, epoch, val_acc, extra_meta)
        _save_checkpoint(ckpt_path, _checkpoint_state(run, progress, epoch))
    history = progress.history
    summary = {
        "best_val_acc": progress.best_acc,
        "best_epoch": progress.best_epoch,
        "epochs": cfg.epochs,
        "wall_time_s": round(sum(h["train_time_s"] + h["val_time_s"] for h in history), 1),
        "params": run.params,
        "macs_per_crop": run.macs,
        "device": _device_name(run.dev),
        "model_file": str(out / BEST_MODEL),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _build_run(cfg: TrainConfig, train: FaceSet, dev: torch.device) -> _Run:
    """Seeds, the network (optionally initialised from a file), EMA, optimizer and spec."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    net = create_model(cfg.arch, num_classes=len(train.classes), **cfg.arch_config)
    if cfg.init_from:
        init = torch.load(cfg.init_from, map_location="cpu", weights_only=False)
        state = init.get("model") or init["state_dict"]
        net.load_state_dict({k: v.float() if v.is_floating_point() else v
                             for k, v in state.items()})  # fmt: skip
        log.info("initialised weights from %s", cfg.init_from)
    macs, params = count_macs(net), count_params(net)
    amp_dtype = _amp_dtype(dev, cfg.amp)
    net = net.to(dev, memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)  # fmt: skip
    return _Run(
        cfg=cfg, dev=dev, net=net, ema=_make_ema(net, cfg.ema_decay), opt=opt,
        scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        pre=Preprocess(equalize=cfg.equalize).with_stats(train.images), amp_dtype=amp_dtype,
        gen=torch.Generator().manual_seed(cfg.seed), macs=macs, params=params,
    )  # fmt: skip


def _restore(run: _Run, ckpt_path: Path) -> _Progress:
    """Load a ``last.ckpt`` into ``run`` (weights, EMA, optimizer, RNGs, spec)."""
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    if state["config"]["arch"] != run.cfg.arch:
        raise ValueError(f"checkpoint is for {state['config']['arch']}, not {run.cfg.arch}")
    run.net.load_state_dict(state["model"])
    if run.ema is not None and state.get("ema") is not None:
        run.ema.load_state_dict(state["ema"])
    run.opt.load_state_dict(state["optimizer"])
    run.scaler.load_state_dict(state["scaler"])
    run.pre = Preprocess.from_dict(state["preprocess"])
    torch.set_rng_state(state["torch_rng"])
    run.gen.set_state(state["gen_rng"])
    progress = _Progress(
        start_epoch=state["epoch"] + 1, best_acc=state["best_acc"],
        best_epoch=state["best_epoch"], plateau_scale=state["plateau_scale"],
        bad_epochs=state["bad_epochs"], history=state["history"],
    )  # fmt: skip
    log.info("resumed from %s at epoch %d (best %.3f%%)", ckpt_path, progress.start_epoch,
             progress.best_acc)  # fmt: skip
    return progress


def _train_epoch(
    run: _Run, images: torch.Tensor, labels: torch.Tensor, epoch: int, plateau_scale: float
) -> dict[str, Any]:
    """One pass over the shuffled training set; returns the epoch's record (loss, accuracy)."""
    cfg, dev, net = run.cfg, run.dev, run.net
    net.train()
    n = len(images)
    steps = max(n // cfg.batch_size, 1)
    perm = torch.randperm(n, generator=run.gen)
    t0 = time.time()
    # running sums stay on the device: reading them every step would stall a GPU
    loss_acc = torch.zeros((), device=dev)
    correct_acc = torch.zeros((), dtype=torch.long, device=dev)
    seen, lr = 0, cfg.lr
    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False)
    for step in bar:
        lr = lr_at(cfg, epoch, step / steps) * plateau_scale
        for g in run.opt.param_groups:
            g["lr"] = lr
        idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size].to(dev)
        y = labels[idx]
        kd_target = run.kd_targets[idx] if run.kd_targets is not None else None
        logits, loss = _optimise(run, _make_batch(run, images[idx], y, kd_target))
        if run.ema is not None:
            run.ema.update_parameters(net)
        loss_acc += loss.detach() * len(y)
        correct_acc += (logits.argmax(1) == y).sum()
        seen += len(y)
        if step % 20 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{float(loss_acc) / seen:.3f}",
                            acc=f"{100 * int(correct_acc) / seen:.1f}%", lr=f"{lr:.4f}")
    return {
        "epoch": epoch + 1,
        "train_loss": float(loss_acc) / seen,
        "train_acc": 100.0 * int(correct_acc) / seen,
        "lr": lr,
        "train_time_s": round(time.time() - t0, 2),
    }


def _optimise(run: _Run, b: _Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on batch ``b``; returns the (logits, loss) of the weights it started at.

    With ``sam_rho`` the gradient is taken again at the sharpest nearby weights on the same batch
    (:mod:`fer_core.training.sam`) and that gradient updates the original weights.
    """
    logits, loss = _batch_loss(run, b)
    run.opt.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if run.cfg.sam_rho > 0:
        params = [p for p in run.net.parameters() if p.requires_grad]
        originals = sam.ascend(params, run.cfg.sam_rho)
        if originals is not None:
            run.opt.zero_grad(set_to_none=True)
            # the statistics are put back after the backward pass, which still reads them
            with sam.batch_norm_stats_kept(run.net):
                _, sharp_loss = _batch_loss(run, b)
                run.scaler.scale(sharp_loss).backward()
            sam.restore(params, originals)
    run.scaler.step(run.opt)
    run.scaler.update()
    return logits, loss


@dataclass
class _Batch:
    """One augmented (and mixed) batch, fixed so that SAM's second pass sees the same faces."""

    x: torch.Tensor
    x_teacher: torch.Tensor | None
    y: torch.Tensor
    y_b: torch.Tensor
    lam: float
    kd_target: torch.Tensor | None


def _make_batch(
    run: _Run, batch: torch.Tensor, y: torch.Tensor, kd_target: torch.Tensor | None = None
) -> _Batch:
    """Augment ``batch`` (and mix it, with its labels and cached targets) with the run's draws.

    ``kd_target``: the batch's cached teacher probabilities (``--kd-cache``); mixup mixes them
    with the very lambda and partner it mixes the faces with, as the online teachers would see.
    The result is fixed, so SAM's second pass (:func:`_optimise`) sees the very same batch.
    """
    cfg = run.cfg
    # augmentation parameters come from the CPU generator so runs repeat on any device
    x, x_teacher = _augment(batch, cfg, run.gen, run.pre, clean_view=run.teachers is not None)
    x = x.contiguous(memory_format=torch.channels_last)
    lam, y_b = 1.0, y
    if cfg.mixup_alpha > 0:
        lam = float(np.random.beta(cfg.mixup_alpha, cfg.mixup_alpha))
        perm_b = torch.randperm(len(y), generator=run.gen).to(run.dev)
        x = lam * x + (1 - lam) * x[perm_b]
        if x_teacher is not None:
            x_teacher = lam * x_teacher + (1 - lam) * x_teacher[perm_b]
        if kd_target is not None:
            kd_target = lam * kd_target + (1 - lam) * kd_target[perm_b]
        y_b = y[perm_b]
    return _Batch(x, x_teacher, y, y_b, lam, kd_target)


def _batch_loss(run: _Run, b: _Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, loss) of the run's network on a prepared batch."""
    cfg = run.cfg
    x, x_teacher, y, y_b, lam, kd_target = b.x, b.x_teacher, b.y, b.y_b, b.lam, b.kd_target
    with torch.autocast(run.dev.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
        logits = run.net(x)
    logits = logits.float()
    loss = F.cross_entropy(logits, y, weight=run.class_weight,
                           label_smoothing=cfg.label_smoothing)  # fmt: skip
    if cfg.mixup_alpha > 0:
        loss = lam * loss + (1 - lam) * F.cross_entropy(
            logits, y_b, weight=run.class_weight, label_smoothing=cfg.label_smoothing
        )
    if run.teachers is not None:
        seen_by_teacher = x if x_teacher is None else x_teacher
        kd = distillation_loss(logits, run.teachers.probs(seen_by_teacher), cfg.kd_temperature)
        loss = (1 - cfg.kd_weight) * loss + cfg.kd_weight * kd
    elif kd_target is not None:
        kd = distillation_loss(logits, kd_target, cfg.kd_temperature)
        loss = (1 - cfg.kd_weight) * loss + cfg.kd_weight * kd
    return logits, loss


def _attach_teachers(run: _Run, train: FaceSet, out: Path) -> None:
    """Online teachers (run on every batch), or with ``kd_cache`` their probabilities for every
    training face, read from (or first written to) ``out/teacher_probs.npz``."""
    cfg = run.cfg
    if cfg.kd_cache and not cfg.teachers:
        raise ValueError("--kd-cache caches teacher outputs: give at least one --teacher")
    if not cfg.teachers:
        return

    def make() -> Teachers:
        return Teachers(cfg.teachers, run.pre, train.classes, run.dev, run.amp_dtype,
                        cfg.kd_temperature)  # fmt: skip

    if not cfg.kd_cache:
        run.teachers = make()
        return
    probs = load_or_build(out / CACHE_FILE, cfg.teachers, cfg.kd_temperature, train.images,
                          make, len(train.classes))  # fmt: skip
    run.kd_targets = torch.from_numpy(probs).to(run.dev)


def _validate(run: _Run, val: FaceSet, val_pre: Preprocess) -> float:
    """Validation accuracy (%) through :func:`~fer_core.preprocess.predict_proba`, the function
    every inference path uses, in the run's autocast precision."""
    with torch.autocast(run.dev.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
        probs = predict_proba(run.final, val.images, val_pre, batch_size=512, device=run.dev)
    return 100.0 * float((probs.argmax(1) == val.labels).mean())


def _step_plateau(cfg: TrainConfig, progress: _Progress, val_acc: float) -> None:
    """The plateau schedule: halve the rate after 5 epochs without a 0.05-point gain."""
    if cfg.schedule != "plateau":
        return
    if val_acc > progress.best_acc + 0.05:
        progress.bad_epochs = 0
        return
    progress.bad_epochs += 1
    if progress.bad_epochs >= 5:
        progress.plateau_scale *= 0.5
        progress.bad_epochs = 0


def _log_epoch(out: Path, progress: _Progress, record: dict[str, Any], epochs: int) -> None:
    """Append the epoch to the history, ``metrics.jsonl`` and the log."""
    progress.history.append(record)
    with (out / METRICS).open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    log.info("epoch %d/%d loss %.4f train %.2f%% val %.2f%% (%.0fs)", record["epoch"], epochs,
             record["train_loss"], record["train_acc"], record["val_acc"],
             record["train_time_s"])  # fmt: skip


def _save_model_file(run: _Run, path: Path, train: FaceSet, epoch: int, val_acc: float,
                     extra_meta: dict[str, Any] | None) -> None:  # fmt: skip
    """The selected (or last) epoch as a model file, with what reproduces it in ``meta``."""
    cfg = run.cfg
    meta = {
        "train_config": asdict(cfg),
        "epoch": epoch + 1,
        "val_acc": val_acc,
        "val_tencrop": cfg.val_tencrop,
        "params": run.params,
        "macs_per_crop": run.macs,
        "device": _device_name(run.dev),
        "train_images": len(train),
        **(extra_meta or {}),
    }
    save_model(path, run.final, arch=cfg.arch, arch_config=cfg.arch_config,
               classes=train.classes, preprocess=run.pre, name=cfg.name or cfg.arch,
               version=cfg.version, meta=meta)  # fmt: skip


def _checkpoint_state(run: _Run, progress: _Progress, epoch: int) -> dict[str, Any]:
    """Everything ``--resume`` needs to continue after ``epoch`` exactly."""
    return {
        "config": asdict(run.cfg),
        "model": run.net.state_dict(),
        "ema": run.ema.state_dict() if run.ema is not None else None,
        "optimizer": run.opt.state_dict(),
        "scaler": run.scaler.state_dict(),
        "epoch": epoch,
        "best_acc": progress.best_acc,
        "best_epoch": progress.best_epoch,
        "plateau_scale": progress.plateau_scale,
        "bad_epochs": progress.bad_epochs,
        "history": progress.history,
        "preprocess": run.pre.to_dict(),
        "torch_rng": torch.get_rng_state(),
        "gen_rng": run.gen.get_state(),
    }


def _amp_dtype(dev: torch.device, enabled: bool) -> torch.dtype | None:
    """float16 on CUDA; bfloat16 on a CPU with native bf16 support; else None (float32)."""
    if not enabled:
        return None
    if dev.type == "cuda":
        return torch.float16
    if dev.type == "cpu" and torch.backends.mkldnn.is_available() and _cpu_has_bf16():
        return torch.bfloat16
    return None


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def _make_ema(net: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of the weights (and BN statistics), or None when off."""
    if decay <= 0:
        return None
    return AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _class_weights(train: FaceSet, power: float, dev: torch.device) -> torch.Tensor | None:
    """Loss weights ~ count ** -power, normalised to mean 1 over the samples (None for 0)."""
    if power <= 0:
        return None
    counts = np.bincount(train.labels, minlength=len(train.classes)).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1.0) ** -power, 0.0)
    w = w / (w * counts).sum() * counts.sum()
    return torch.tensor(w, dtype=torch.float32, device=dev)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
