"""Model cards whose numbers come from measurement, never from typing.

``ship_model`` turns a training run's ``model.pt`` into a shipped file in ``models/``: it stores
fp16 weights when that changes PublicTest ten-crop accuracy by at most ``fp16_tolerance`` points
(else fp32), evaluates the *shipped file* with the same code as ``python -m fer_core evaluate``,
recounts parameters and MACs from the built network, and writes ``<name>.json`` and ``<name>.md``.

Why here and not in :mod:`fer_core.models`: a card is measured with the trainer's evaluation on
the datasets, so shipping sits above training and data; the model package (file format,
architectures) stays below them and loads without either.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fer_core.data import FaceSet, load_ckplus, load_fer2013, protocol_folds
from fer_core.models.architectures import count_macs, count_params
from fer_core.models.file_format import LoadedModel, load_model, save_model
from fer_core.training.evaluate import EvalResult, evaluate_faces, robustness_of
from fer_core.training.metrics import format_table

log = logging.getLogger(__name__)


def _save_variant(src: Path, dst: Path, *, name: str, version: str, half: bool) -> Path:
    m = load_model(src)
    return save_model(
        dst, m.net, arch=m.arch, arch_config=m.arch_config, classes=m.classes,
        preprocess=m.preprocess, name=name, version=version, meta=m.meta, half=half,
    )  # fmt: skip


def _run_history(weights: Path) -> dict[str, Any]:
    """Epoch count and wall time of the run that produced ``weights`` (from its metrics.jsonl)."""
    path = weights.parent / "metrics.jsonl"
    if not path.is_file():
        return {}
    epochs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {
        "epochs_run": len(epochs),
        "wall_time_s": round(sum(e["train_time_s"] + e["val_time_s"] for e in epochs), 1),
        "val_acc_by_epoch": [round(e["val_acc"], 3) for e in epochs],
    }


@dataclass
class HeldOut:
    """The images a shipped model is scored on, and how a user re-runs that score."""

    faces: FaceSet
    dataset: str
    split: str
    evaluate_args: str  # the `evaluate` arguments after --weights
    card_key: str  # "publictest" (FER2013) or "ckplus_test" (the CK+ fold it never trained on)


def held_out_set(model: LoadedModel, data: Path) -> HeldOut:
    """FER2013 PublicTest for a FER2013 model; the CK+ fold a CK+ model did not train on.

    A CK+ model is one fold's model: its file records the protocol and the fold, and that fold's
    images are its only honest test set (every other CK+ image was training data).
    """
    if model.meta.get("dataset") == "ckplus":
        protocol, fold = model.meta.get("protocol"), model.meta.get("fold")
        if protocol not in ("seed", "subject") or not isinstance(fold, int):
            raise ValueError(
                "this CK+ model file does not record its protocol and fold, so it has no "
                "held-out test set to report; train it with `train --dataset ckplus --fold K`"
            )
        faces = load_ckplus(data)
        folds = protocol_folds(faces, protocol)
        split = f"{protocol} fold {fold}"
        return HeldOut(
            faces.subset(folds[fold - 1][1]), "ckplus", split,
            f"--dataset ckplus --data {data} --protocol {protocol} --fold {fold}", "ckplus_test",
        )  # fmt: skip
    return HeldOut(
        load_fer2013(data, "PublicTest"), "fer2013", "PublicTest",
        f"--dataset fer2013 --data {data} --split PublicTest", "publictest",
    )  # fmt: skip


def ship_model(
    weights: Path,
    name: str,
    version: str,
    data: Path,
    out_dir: Path,
    *,
    train_command: str,
    notes: str = "",
    fp16_tolerance: float = 0.1,
    ckplus: dict[str, Any] | None = None,
    robustness: bool = False,
) -> dict[str, Any]:
    """Write ``out_dir/<name>.pt`` plus its card; return the card's data.

    The card also holds the expected calibration error with the file's temperature (and, for a
    calibrated file, without it), a reliability diagram ``<name>-reliability.png`` and, with
    ``robustness``, the accuracy under every camera-like perturbation (the live crops).

    ``data`` is the FER2013 folder for a FER2013 model (PublicTest is scored) or the CK+48 folder
    for a CK+ fold model (its held-out fold is scored). ``ckplus`` holds `evaluate --json` outputs
    of whole 10-fold runs, keyed by protocol, reported on the card as they are.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    test = held_out_set(load_model(weights), data)
    dst = out_dir / f"{name}.pt"
    fp32_path = _save_variant(weights, out_dir / f".{name}.fp32.tmp", name=name, version=version,
                              half=False)  # fmt: skip

    def score(path: Path, crops: str = "ten") -> EvalResult:
        return evaluate_faces(load_model(path), test.faces, dataset=test.dataset,
                              split=test.split, crops=crops)  # fmt: skip

    fp32 = score(fp32_path)
    _save_variant(weights, dst, name=name, version=version, half=True)
    shipped = score(dst)
    precision = "fp16"
    if abs(shipped.accuracy - fp32.accuracy) > fp16_tolerance:
        log.info("fp16 changes accuracy by %.3f points: shipping fp32",
                 shipped.accuracy - fp32.accuracy)  # fmt: skip
        fp32_path.replace(dst)
        shipped, precision = fp32, "fp32"
    else:
        fp32_path.unlink()
    model = load_model(dst)
    card = {
        "name": name,
        "version": version,
        "file": dst.name,
        "precision": precision,
        "file_size_bytes": dst.stat().st_size,
        "arch": model.arch,
        "arch_config": model.arch_config,
        "params": count_params(model.net),
        "macs_per_crop": count_macs(model.net, (1, *(model.preprocess.crop_size,) * 2)),
        "classes": list(model.classes),
        "test_set": f"{test.dataset} {test.split}",
        test.card_key: shipped.to_json(),
        "centre_crop_accuracy": score(dst, crops="center").accuracy,
        # what the live pipeline and analyze compute (fer_core.pipeline.DEFAULT_SETTINGS.crops)
        "flip_crop_accuracy": score(dst, crops="flip").accuracy,
        "fp32_accuracy": fp32.accuracy,
        "training": model.meta,
        "train_command": train_command,
        "evaluate_command": (
            f"python -m fer_core evaluate --weights models/{dst.name} {test.evaluate_args}"
        ),
        "run_history": _run_history(weights),
        "notes": notes,
    }
    card["macs_per_tencrop_image"] = 10 * card["macs_per_crop"]
    png = out_dir / f"{name}-reliability.png"
    card["calibration"] = _calibration_card(model, shipped, test, png)
    if robustness:
        rows = robustness_of([model], test.faces, crops="flip")
        card["robustness"] = {
            "crops": "flip", "seed": 0,
            "rows": [asdict(r) for r in rows],
        }  # fmt: skip
    if ckplus:
        card["ckplus"] = ckplus
    (out_dir / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(render_card(card, shipped))
    return card


def _calibration_card(
    model: LoadedModel, shipped: EvalResult, test: HeldOut, png: Path
) -> dict[str, Any]:
    """ECE of the shipped file (and of the same weights at temperature 1), with a diagram."""
    from dataclasses import replace

    from fer_core.calibration import save_reliability_png

    t = model.preprocess.temperature
    out: dict[str, Any] = {"temperature": t, "ece": shipped.ece,
                           "fitted": model.meta.get("calibration")}  # fmt: skip
    curves = {f"T={t:.2f}: ECE {100 * shipped.ece:.2f}%": shipped.bins}
    if t != 1.0:
        raw = replace(model, preprocess=replace(model.preprocess, temperature=1.0))
        before = evaluate_faces(raw, test.faces, dataset=test.dataset, split=test.split)
        out["ece_uncalibrated"] = before.ece
        curves = {f"T=1 (uncalibrated): ECE {100 * before.ece:.2f}%": before.bins, **curves}
    save_reliability_png(curves, png, f"{model.name}: {test.dataset} {test.split}, ten-crop")
    out["reliability_png"] = png.name
    return out


def _training_rows(card: dict[str, Any]) -> list[str]:
    t = card["training"]
    cfg = t.get("train_config", {})
    if t.get("dataset") == "ckplus":
        data = (f"CK+48, {t.get('protocol')} protocol, every fold but fold {t.get('fold')} "
                f"({t.get('train_images', '?')} images)")  # fmt: skip
        selection = "none: the last epoch is shipped (the held-out fold is the test set)"
        epochs = f"{cfg.get('epochs', '?')}"
    elif cfg.get("select") == "last":
        data = f"FER2013 Training ({t.get('train_images', '?')} images)"
        monitored = t.get("selection", "?")
        selection = (f"none: the last epoch of a fixed schedule is shipped ({monitored} was "
                     "only monitored, centre crop)")  # fmt: skip
        epochs = f"{cfg.get('epochs', '?')}"
    else:
        data = f"FER2013 Training ({t.get('train_images', '?')} images)"
        selection = f"{t.get('selection', '?')} (centre-crop accuracy per epoch)"
        epochs = f"best epoch {t.get('epoch', '?')} of {cfg.get('epochs', '?')}"
    init = f", initialised from `{cfg['init_from']}`" if cfg.get("init_from") else ""
    # files trained before `--camera-p` existed drew each camera degradation with 0.2
    camera = f" (p {cfg.get('camera_p', 0.2)})" if cfg.get("augment") == "camera" else ""
    sam = f"SAM rho {cfg['sam_rho']}, " if cfg.get("sam_rho", 0.0) > 0 else ""
    return [
        f"| training data | {data} |",
        f"| model selection | {selection} |",
        f"| epochs | {epochs} |",
        f"| recipe | SGD lr {cfg.get('lr')} momentum {cfg.get('momentum')} "
        f"{'nesterov ' if cfg.get('nesterov') else ''}wd {cfg.get('weight_decay')}, "
        f"batch {cfg.get('batch_size')}, {cfg.get('schedule')} schedule, "
        f"warmup {cfg.get('warmup_epochs')}, augmentation `{cfg.get('augment')}`{camera}, "
        f"label smoothing {cfg.get('label_smoothing')}, mixup {cfg.get('mixup_alpha')}, "
        f"EMA {cfg.get('ema_decay', 0.0)}, class-weight power "
        f"{cfg.get('class_weight_power', 0.0)}, {sam}seed {cfg.get('seed')}{init} |",
        f"| hardware | {t.get('device', '?')} |",
        f"| epochs run / wall time | {card['run_history'].get('epochs_run', '?')} epochs, "
        f"{card['run_history'].get('wall_time_s', 0) / 3600:.2f} h |",
    ]


def _fold_lines(folds: dict[str, Any]) -> list[str]:
    """One row per 10-fold protocol: every fold's accuracy, then mean and sd."""
    lines = ["| protocol | " + " | ".join(f"fold {k}" for k in range(1, 11)) + " | mean +- sd |",
             "|---" * 12 + "|"]  # fmt: skip
    for protocol, summary in folds.items():
        accs = " | ".join(f"{a:.2f}" for a in summary["fold_accuracies"])
        lines.append(f"| {protocol} | {accs} | {summary['mean']:.2f} +- {summary['sd']:.2f} |")
    return lines


def _calibration_lines(card: dict[str, Any]) -> list[str]:
    cal = card.get("calibration")
    if not cal:
        return []
    fitted = cal.get("fitted") or {}
    how = (f"fitted on {fitted['fitted_on']}"
           + (f" (faces learned by {', '.join(fitted['holdout_seen_by'])})"
              if fitted.get("holdout_seen_by") else
              " (faces the network trained on)" if fitted.get("faces_seen_in_training") else "")
           if fitted else "none fitted (temperature 1)")  # fmt: skip
    text = (f"Temperature {cal['temperature']:.3f}, {how}. Expected calibration error on the "
            f"test set above (top class, 15 bins): {100 * cal['ece']:.2f}%")  # fmt: skip
    if "ece_uncalibrated" in cal:
        text += f" (at temperature 1: {100 * cal['ece_uncalibrated']:.2f}%)"
    text += f". Reliability diagram: `models/{cal['reliability_png']}`."
    return ["## Confidence", "", text, ""]


def _robustness_lines(card: dict[str, Any]) -> list[str]:
    rob = card.get("robustness")
    if not rob:
        return []
    lines = [f"## Camera-like conditions ({rob['crops']} crops, as the live pipeline; seed "
             f"{rob['seed']}; `evaluate --crops {rob['crops']} --perturb`)", "",
             "| condition | accuracy (%) | drop (points) | ECE (%) |",
             "|---|---|---|---|"]  # fmt: skip
    # cards shipped before the ECE column was measured have no "ece": shown as not measured
    lines += [f"| {r['condition']} | {r['accuracy']:.2f} | {r['drop']:.2f} | "
              f"{'' if r.get('ece') is None else format(r['ece'], '.2f')} |"
              for r in rob["rows"]]  # fmt: skip
    return [*lines, ""]


def render_card(card: dict[str, Any], result: EvalResult) -> str:
    """Markdown model card from the measured data."""
    lines = [
        f"# Model card: `{card['name']}` (version {card['version']})",
        "",
        card["notes"] or "",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{card['arch']}` {json.dumps(card['arch_config'])} |",
        f"| parameters | {card['params']:,} |",
        f"| MACs per 44x44 crop | {card['macs_per_crop'] / 1e6:.1f} M |",
        f"| MACs per ten-crop image | {card['macs_per_tencrop_image'] / 1e6:.1f} M |",
        f"| file | `models/{card['file']}`, {card['precision']}, "
        f"{card['file_size_bytes'] / 1e6:.2f} MB |",
        f"| classes | {', '.join(card['classes'])} |",
        *_training_rows(card),
        "",
        f"## {result.dataset} {result.split} (ten-crop, mean softmax, the shipped file)",
        "",
        "```",
        format_table(result.table(), result.accuracy, ""),
        "```",
        "",
        f"Centre crop only: {card['centre_crop_accuracy']:.3f}%. "
        + (f"Centre crop and its mirror (the live pipeline's and `analyze`'s default crops, "
           f"`evaluate --crops flip`): {card['flip_crop_accuracy']:.3f}%. "
           if "flip_crop_accuracy" in card else "")
        + f"fp32 weights: {card['fp32_accuracy']:.3f}%.",
        "",
    ]
    lines += _calibration_lines(card)
    lines += _robustness_lines(card)
    if "ckplus" in card:
        lines += [
            "## CK+ 10-fold cross-validation (ten-crop; each fold's own model, last epoch)",
            "",
            *_fold_lines(card["ckplus"]),
            "",
            "`seed`: the seed paper's contiguous per-class blocks (frames of one subject on both "
            "sides, so it flatters); `subject`: no subject in both the training and the test "
            "side of a fold (see `fer_core/data/ckplus.py`).",
            "",
        ]
    lines += [
        "## Reproduce",
        "",
        "Train:",
        "",
        "```bash",
        card["train_command"],
        "```",
        "",
        "Evaluate the shipped file (prints the table above):",
        "",
        "```bash",
        card["evaluate_command"],
        "```",
        "",
    ]
    return "\n".join(lines)
