"""Model cards whose numbers come from measurement, never from typing.

``ship_model`` turns a training run's ``model.pt`` into a shipped file in ``models/``: it stores
fp16 weights when that changes PublicTest ten-crop accuracy by at most ``fp16_tolerance`` points
(else fp32), evaluates the *shipped file* with the same code as ``python -m fer_core evaluate``,
recounts parameters and MACs from the built network, and writes ``<name>.json`` and ``<name>.md``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fer_core.data import load_fer2013
from fer_core.modelfile import load_model, save_model
from fer_core.nets import count_macs, count_params
from fer_core.training.evaluate import EvalResult, evaluate_faces
from fer_core.training.metrics import format_table

log = logging.getLogger(__name__)


def _save_variant(src: Path, dst: Path, *, name: str, version: str, half: bool) -> Path:
    m = load_model(src)
    return save_model(
        dst, m.net, arch=m.arch, arch_config=m.arch_config, classes=m.classes, mean=m.mean,
        std=m.std, name=name, version=version, meta=m.meta, half=half,
        input_size=m.input_size, crop_size=m.crop_size, input_blur=m.input_blur,
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


def ship_model(
    weights: Path,
    name: str,
    version: str,
    fer_data: Path,
    out_dir: Path,
    *,
    train_command: str,
    notes: str = "",
    fp16_tolerance: float = 0.1,
    ckplus: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/<name>.pt`` plus its card; return the card's data."""
    out_dir.mkdir(parents=True, exist_ok=True)
    public = load_fer2013(fer_data, "PublicTest")
    dst = out_dir / f"{name}.pt"
    fp32_path = _save_variant(weights, out_dir / f".{name}.fp32.tmp", name=name, version=version,
                              half=False)  # fmt: skip
    fp32 = evaluate_faces(load_model(fp32_path), public, dataset="fer2013", split="PublicTest")
    _save_variant(weights, dst, name=name, version=version, half=True)
    shipped = evaluate_faces(load_model(dst), public, dataset="fer2013", split="PublicTest")
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
        "macs_per_crop": count_macs(model.net, (1, model.crop_size, model.crop_size)),
        "classes": list(model.classes),
        "publictest": shipped.to_json(),
        "publictest_centre_crop_accuracy": evaluate_faces(
            model, public, dataset="fer2013", split="PublicTest", tencrop=False
        ).accuracy,
        "fp32_publictest_accuracy": fp32.accuracy,
        "training": model.meta,
        "train_command": train_command,
        "evaluate_command": (
            f"python -m fer_core evaluate --weights models/{dst.name} --dataset fer2013 "
            f"--data ../shared/data/fer2013 --split PublicTest"
        ),
        "run_history": _run_history(weights),
        "notes": notes,
    }
    card["macs_per_tencrop_image"] = 10 * card["macs_per_crop"]
    if ckplus:
        card["ckplus"] = ckplus
    (out_dir / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(render_card(card, shipped))
    return card


def render_card(card: dict[str, Any], result: EvalResult) -> str:
    """Markdown model card from the measured data."""
    t = card["training"]
    cfg = t.get("train_config", {})
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
        f"| training data | FER2013 Training ({t.get('train_images', '?')} images) |",
        f"| model selection | {t.get('selection', '?')} (centre-crop accuracy per epoch) |",
        f"| epochs | best epoch {t.get('epoch', '?')} of {cfg.get('epochs', '?')} |",
        f"| recipe | SGD lr {cfg.get('lr')} momentum {cfg.get('momentum')} "
        f"{'nesterov ' if cfg.get('nesterov') else ''}wd {cfg.get('weight_decay')}, "
        f"batch {cfg.get('batch_size')}, {cfg.get('schedule')} schedule, "
        f"warmup {cfg.get('warmup_epochs')}, augmentation `{cfg.get('augment')}`, "
        f"label smoothing {cfg.get('label_smoothing')}, mixup {cfg.get('mixup_alpha')}, "
        f"seed {cfg.get('seed')} |",
        f"| hardware | {t.get('device', '?')} |",
        f"| epochs run / wall time | {card['run_history'].get('epochs_run', '?')} epochs, "
        f"{card['run_history'].get('wall_time_s', 0) / 3600:.2f} h |",
        "",
        "## FER2013 PublicTest (ten-crop, mean softmax)",
        "",
        "```",
        format_table(result.table(), result.accuracy, ""),
        "```",
        "",
        f"Centre crop only: {card['publictest_centre_crop_accuracy']:.3f}%. "
        f"fp32 weights: {card['fp32_publictest_accuracy']:.3f}%.",
        "",
    ]
    if "ckplus" in card:
        lines += ["## CK+", "", "```", json.dumps(card["ckplus"], indent=2), "```", ""]
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
