"""``python -m fer_core train``: train a registered network on FER2013 or CK+."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

NAME = "train"
HELP = "train a network (paper, fast, alexnet, vgg19, ...) on FER2013 or one CK+ fold"

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", default="paper", help="registered architecture (see `list-models`)")
    p.add_argument("--arch-config", default="{}", help="JSON config, e.g. '{\"width\": 32}'")
    p.add_argument("--dataset", choices=["fer2013", "ckplus"], default="fer2013")
    p.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv, or CK+48 folder")
    p.add_argument(
        "--val-split",
        default="PublicTest",
        help="FER2013 split used for model selection (default PublicTest)",
    )
    p.add_argument(
        "--val-from-train",
        type=float,
        default=0.0,
        help="instead of --val-split, hold out this fraction of train for selection",
    )
    p.add_argument(
        "--holdout-seed", type=int, default=None,
        help="seed of that hold-out (default: --seed); teachers and students of other seeds "
        "share one hold-out through it, so that calibrate can fit on faces none of them saw",
    )  # fmt: skip
    p.add_argument("--protocol", choices=["seed", "subject"], default="seed", help="CK+ folds")
    p.add_argument(
        "--fold", type=int, default=1,
        help="CK+ fold 1..10 (tested on, never trained); 0 trains all ten into OUT/foldNN",
    )  # fmt: skip
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--schedule", choices=["step", "cosine", "plateau"], default="step")
    p.add_argument("--step-start", type=int, default=80, help="step: first decayed epoch")
    p.add_argument("--step-every", type=int, default=5, help="step: decay every N epochs")
    p.add_argument("--step-gamma", type=float, default=0.9, help="step: decay factor")
    p.add_argument("--warmup-epochs", type=int, default=0)
    p.add_argument("--augment", choices=["seed", "strong", "camera"], default="seed",
                   help="seed: random crop + flip; strong: affine, flip, erasing; camera: strong "
                   "with rotations to 30 degrees after blur, low resolution, JPEG and noise")
    p.add_argument(
        "--camera-p", type=float, default=0.2,
        help="camera: probability of each degradation (blur, low resolution, JPEG, noise)",
    )  # fmt: skip
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--mixup", type=float, default=0.0, help="mixup alpha (0 = off)")
    p.add_argument(
        "--no-equalize", action="store_true",
        help="do not histogram-equalise faces (default: equalise every face, as the FER2013 "
        "Training split already is)",
    )  # fmt: skip
    p.add_argument("--no-amp", action="store_true", help="float32 even where bf16/fp16 works")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights (0 = off)")
    p.add_argument(
        "--class-weight-power", type=float, default=0.0,
        help="loss weight of a class ~ (1/count)**POWER (0 = plain; 0.5 lifts rare classes)",
    )  # fmt: skip
    p.add_argument(
        "--select", choices=["best", "last"], default=None,
        help="keep the best validation epoch or the last (default: best; CK+ folds: last)",
    )  # fmt: skip
    p.add_argument("--init-from", default="", help="initial weights: a model file or last.ckpt")
    p.add_argument(
        "--sam-rho", type=float, default=0.0,
        help="sharpness-aware minimisation radius (0 = off; about 0.05; each step costs two)",
    )  # fmt: skip
    p.add_argument("--val-tencrop", action="store_true", help="select on ten-crop accuracy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--name", default="", help="model name stored in the file (default: arch)")
    p.add_argument("--limit", type=int, default=0, help="use only every k-th training image")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics, model.pt")
    p.add_argument("--teacher", action="append", default=[], metavar="MODEL",
                   help="distil from this model file (repeat for an ensemble: mean probabilities)")
    p.add_argument("--kd-weight", type=float, default=0.5,
                   help="share of the distillation loss (the rest is cross-entropy)")
    p.add_argument("--kd-temperature", type=float, default=4.0,
                   help="softening temperature of teacher and student outputs")
    p.add_argument("--kd-cache", action="store_true",
                   help="run the teachers once over the clean training faces (ten-crop mean, "
                   "saved as OUT/teacher_probs.npz, reused by --resume) instead of on every "
                   "batch: about as fast as training without a teacher")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")


def _record_lineage(args: argparse.Namespace, extra: dict) -> None:
    """Record which teachers or initial weights may have learned from the hold-out: calibrate
    refuses to fit a temperature there if any did (fer_core.training.lineage says why)."""
    from fer_core.training.lineage import SEEN_BY, holdout_seen_by

    ancestors = [*args.teacher, *([args.init_from] if args.init_from else [])]
    seen = holdout_seen_by(ancestors, extra["holdout"])
    extra[SEEN_BY] = seen
    if seen:
        log.warning("these files may have learned from the hold-out (trained without a hold-out "
                    "covering it): %s; a temperature fitted there will not be honest; give them "
                    "the same --val-from-train and --holdout-seed", ", ".join(seen))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from fer_core.data import holdout_split, load_ckplus, load_fer2013, protocol_folds
    from fer_core.training.trainer import TrainConfig, fit

    if not 0 <= args.camera_p <= 1:
        raise SystemExit(f"--camera-p is a probability in [0, 1], got {args.camera_p}")
    if args.threads:
        torch.set_num_threads(args.threads)
    extra: dict = {"dataset": args.dataset, "data": str(args.data)}
    if args.dataset == "fer2013":
        train = load_fer2013(args.data, "Training")
        if args.val_from_train > 0:
            hseed = args.seed if args.holdout_seed is None else args.holdout_seed
            val, train = holdout_split(train, args.val_from_train, hseed)
            extra["selection"] = f"{args.val_from_train:.0%} of Training (seed {hseed})"
            # calibrate reads these to fit the temperature on exactly these held-out faces
            extra["holdout"] = {"fraction": args.val_from_train, "seed": hseed}
            _record_lineage(args, extra)
        else:
            val = load_fer2013(args.data, args.val_split)
            extra["selection"] = args.val_split
    else:
        faces = load_ckplus(args.data)
        folds = protocol_folds(faces, args.protocol)
        if not 0 <= args.fold <= len(folds):
            raise SystemExit(f"--fold must be 0 (all) or 1..{len(folds)}")
        if args.fold == 0:
            for k in range(1, len(folds) + 1):
                fold_args = argparse.Namespace(**{**vars(args), "fold": k})
                fold_args.out = str(Path(args.out) / f"fold{k:02d}")
                run(fold_args)
            return 0
        tr_idx, te_idx = folds[args.fold - 1]
        train, val = faces.subset(tr_idx), faces.subset(te_idx)
        extra.update(protocol=args.protocol, fold=args.fold, selection="last epoch (no tuning)")
    if args.limit > 1:
        train = train.subset(np.arange(0, len(train), args.limit))
    cfg = TrainConfig(
        arch=args.arch,
        arch_config=json.loads(args.arch_config),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        nesterov=args.nesterov,
        schedule=args.schedule,
        step_start=args.step_start,
        step_every=args.step_every,
        step_gamma=args.step_gamma,
        warmup_epochs=args.warmup_epochs,
        augment=args.augment,
        camera_p=args.camera_p,
        label_smoothing=args.label_smoothing,
        mixup_alpha=args.mixup,
        seed=args.seed,
        val_tencrop=args.val_tencrop,
        equalize=not args.no_equalize,
        amp=not args.no_amp,
        ema_decay=args.ema,
        class_weight_power=args.class_weight_power,
        init_from=args.init_from,
        teachers=list(args.teacher),
        kd_weight=args.kd_weight,
        kd_temperature=args.kd_temperature,
        kd_cache=args.kd_cache,
        sam_rho=args.sam_rho,
        name=args.name,
        # a CK+ fold's held-out images are its test set: never select an epoch on them
        select="last" if args.dataset == "ckplus" else (args.select or "best"),
    )
    summary = fit(
        train, val, cfg, args.out, resume=args.resume, device=args.device, extra_meta=extra
    )
    print(json.dumps(summary, indent=2))
    return 0
