"""The seed's Tables 3-4: train + test time of the paper network vs AlexNet vs VGG19, same work.

The seed (NVIDIA MX150) timed 5 epochs of training plus ten-crop testing after every epoch: on a
CK+ fold (882 train / 99 test images) and on FER2013 (28,709 train; 3,589 PublicTest + 3,589
PrivateTest). A full CPU run of that is hours, so by default we time a fixed, deterministic subset
that keeps each protocol's train:test proportion, for fewer epochs, and scale to 5 epochs (time per
epoch is constant, so ratios are unaffected). All three networks do exactly the same work in one
process, interleaved per repeat; each repeat yields ratios, reported as min / median / max.

The training step mirrors :mod:`fer_core.training.trainer` (SGD with momentum 0.9, weight decay
5e-4, the seed's random crop + flip, cross-entropy) without its per-epoch checkpoint and model-file
writes (180 MB per epoch for AlexNet), which are disk I/O, not the network cost the seed compares.
Unlike the trainer it keeps the last partial batch, as the seed's DataLoader does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from fer_core.bench.timing import Stats, rotate
from fer_core.data import FaceSet, load_ckplus, load_fer2013, seed_folds
from fer_core.models.architectures import count_macs, count_params, create_model
from fer_core.preprocess import Preprocess
from fer_core.preprocess_torch import predict_proba, prepare_faces
from fer_core.transforms import random_crop_flip

log = logging.getLogger(__name__)

ARCHS: tuple[str, ...] = ("paper", "alexnet", "vgg19")
SEED_EPOCHS = 5

#: The seed's Tables 3 and 4 (seconds, 5 epochs, NVIDIA GeForce MX150). FER2013 "test" is
#: PublicTest + PrivateTest.
SEED_TIMES: dict[str, dict[str, dict[str, float]]] = {
    "ckplus": {
        "vgg19": {"train": 28.43, "test": 12.38, "total": 40.81},
        "alexnet": {"train": 26.43, "test": 17.49, "total": 43.92},
        "paper": {"train": 17.73, "test": 7.85, "total": 25.58},
    },
    "fer2013": {
        "vgg19": {"train": 2741.87, "test": 419.57 + 423.96, "total": 3585.4},
        "alexnet": {"train": 1458.25, "test": 687.8 + 679.08, "total": 2825.13},
        "paper": {"train": 1655.82, "test": 256.6 + 257.34, "total": 2169.76},
    },
}

#: Full protocol sizes (train images, test images) the seed timed.
FULL_SIZES: dict[str, tuple[int, int]] = {"ckplus": (882, 99), "fer2013": (28709, 3589 + 3589)}


@dataclass
class Workload:
    """The data one timing runs over: a train set and one or more test sets."""

    key: str  # "ckplus" or "fer2013", the key into SEED_TIMES
    label: str
    train: FaceSet
    tests: dict[str, FaceSet] = field(default_factory=dict)

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self.train), sum(len(t) for t in self.tests.values())


def _take(faces: FaceSet, n: int | None, seed: int) -> FaceSet:
    """A fixed random subset of ``n`` images (all when ``n`` is None or too large)."""
    if n is None or n >= len(faces):
        return faces
    idx = np.sort(np.random.default_rng(seed).permutation(len(faces))[:n])
    return faces.subset(idx)


def ckplus_workload(
    root: str | Path, train_images: int | None, test_images: int | None, fold: int = 0
) -> Workload:
    """CK+48, the seed's fold ``fold`` (882 train / 99 test), optionally subsampled."""
    faces = load_ckplus(root)
    train_idx, test_idx = seed_folds(faces)[fold]
    train = _take(faces.subset(train_idx), train_images, seed=1)
    test = _take(faces.subset(test_idx), test_images, seed=2)
    return Workload("ckplus", f"CK+48 seed fold {fold + 1}", train, {"test": test})


def fer2013_workload(
    root: str | Path, train_images: int | None, test_images: int | None
) -> Workload:
    """FER2013 Training plus PublicTest and PrivateTest (``test_images`` split between them).

    Where PrivateTest is absent (the shared data withholds it) a disjoint set of PublicTest images
    of the same size stands in for it: the seed timed both test splits, content does not change
    the cost, and the same work keeps the test share of the total comparable to the seed's. When
    PublicTest is too small to supply disjoint images (the full protocol) the same images are
    used twice.
    """
    train = _take(load_fer2013(root, "Training"), train_images, seed=1)
    public = load_fer2013(root, "PublicTest")
    per_split = None if test_images is None else max(test_images // 2, 1)
    try:
        private = _take(load_fer2013(root, "PrivateTest"), per_split, seed=2)
        tests = {"PublicTest": _take(public, per_split, seed=2), "PrivateTest": private}
    except ValueError as exc:  # DatasetError: no PrivateTest files under root
        log.warning("FER2013 PrivateTest unavailable (%s); PublicTest images stand in", exc)
        n = len(public) if per_split is None else min(per_split, len(public))
        both = _take(public, 2 * n, seed=2)
        first, second = (
            (both.subset(range(n)), both.subset(range(n, 2 * n)))
            if len(both) >= 2 * n
            else (both, both)
        )
        tests = {"PublicTest": first, "PrivateTest (PublicTest stand-in)": second}
    return Workload("fer2013", "FER2013", train, tests)


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer stops when the work is done, not when it is queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_arch(
    arch: str,
    work: Workload,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Seconds of ``epochs`` x (train over work.train, ten-crop test over every test set)."""
    dev = torch.device(device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = create_model(arch, num_classes=len(work.train.classes)).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    pre = Preprocess().with_stats(work.train.images)
    images = prepare_faces(work.train.images, pre)
    labels = torch.from_numpy(work.train.labels).to(dev)

    def train_step(idx: torch.Tensor) -> None:
        x = random_crop_flip(images[idx], generator=gen).to(dev)
        loss = F.cross_entropy(net(x), labels[idx.to(dev)])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # untimed warm-up (allocator, oneDNN primitive caches): the seed's first epoch also paid
    # CUDA start-up, which we cannot reproduce and do not want in a CPU comparison
    net.train()
    train_step(torch.arange(min(len(labels), 8)))
    n = len(labels)
    train_s = test_s = 0.0
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        _sync(dev)
        t0 = time.perf_counter()
        for start in range(0, n, batch_size):
            train_step(perm[start : start + batch_size])
        _sync(dev)
        t1 = time.perf_counter()
        for test in work.tests.values():
            predict_proba(net, test.images, pre, batch_size=batch_size, device=dev)
        _sync(dev)
        t2 = time.perf_counter()
        train_s += t1 - t0
        test_s += t2 - t1
    return {"train": train_s, "test": test_s, "total": train_s + test_s}


def run_seed_tables(
    workloads: list[Workload],
    *,
    archs: tuple[str, ...] = ARCHS,
    epochs: int = 1,
    repeats: int = 3,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Time every arch on every workload, ``repeats`` times, interleaved; ratios per repeat."""
    if "paper" not in archs:
        raise ValueError("the seed tables compare the paper network: include 'paper' in archs")
    scale = SEED_EPOCHS / epochs
    out: dict[str, Any] = {
        "epochs_run": epochs,
        "epochs_reported": SEED_EPOCHS,
        "device": str(device),
        "workloads": {},
    }
    total = len(workloads) * repeats * len(archs)
    bar = tqdm(total=total, desc="seed tables", disable=not progress)
    for work in workloads:
        runs: dict[str, list[dict[str, float]]] = {a: [] for a in archs}
        for r in range(repeats):
            for arch in rotate(archs, r):
                t = time_arch(arch, work, epochs, batch_size, seed=r, device=device)
                runs[arch].append({k: v * scale for k, v in t.items()})
                bar.update(1)
        out["workloads"][work.key] = _summarise(work, runs, archs)
    bar.close()
    return out


def _summarise(
    work: Workload, runs: dict[str, list[dict[str, float]]], archs: tuple[str, ...]
) -> dict[str, Any]:
    parts = ("train", "test", "total")
    times = {a: {p: Stats.of([r[p] for r in runs[a]]).as_dict() for p in parts} for a in archs}
    ratios: dict[str, dict[str, dict[str, float]]] = {}
    seed = SEED_TIMES.get(work.key, {})
    seed_ratios: dict[str, dict[str, float]] = {}
    for other in archs:
        if other == "paper":
            continue
        ratios[other] = {
            p: Stats.of(
                [a[p] / b[p] for a, b in zip(runs["paper"], runs[other], strict=True)]
            ).as_dict()
            for p in parts
        }
        if other in seed:
            seed_ratios[other] = {p: seed["paper"][p] / seed[other][p] for p in parts}
    nets = {a: create_model(a) for a in archs}
    macs = {a: count_macs(n) for a, n in nets.items()}
    params = {a: count_params(n) for a, n in nets.items()}
    return {
        "label": work.label,
        "train_images": work.sizes[0],
        "test_images": work.sizes[1],
        "test_sets": {k: len(v) for k, v in work.tests.items()},
        "full_sizes": FULL_SIZES.get(work.key),
        "times_s": times,
        "paper_over": ratios,
        "seed_paper_over": seed_ratios,
        "macs_per_crop": macs,
        "params": params,
    }
