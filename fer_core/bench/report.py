"""Markdown tables from benchmark results (the form docs/benchmarks.md quotes)."""

from __future__ import annotations

from typing import Any


def _crops(res: dict) -> str:
    """The results' test-time crops (files written before ``crops`` hold a ``tencrop`` flag)."""
    if "crops" in res:
        return str(res["crops"])
    return "ten" if res.get("tencrop", True) else "center"


def _s(d: dict[str, float], digits: int = 2) -> str:
    """``median (min-max)`` of a Stats dict."""
    return f"{d['median']:.{digits}f} ({d['min']:.{digits}f}-{d['max']:.{digits}f})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine_md(info: dict[str, Any]) -> str:
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB RAM; "
        f"torch {info['torch']} with {info['torch_threads']} thread(s), OpenCV {info['opencv']}, "
        f"Python {info['python']}; GPU: {info['cuda'] or 'none'}; "
        f"load average at start {tuple(round(x, 1) for x in info['load_avg_at_start'] or ())}."
    )


def seed_md(res: dict[str, Any]) -> str:
    out = []
    for key, w in res["workloads"].items():
        n_tr, n_te = w["train_images"], w["test_images"]
        out.append(
            f"**{w['label']}** ({n_tr} train, {n_te} test images {w['test_sets']}; "
            f"{res['epochs_run']} epoch(s) timed, scaled to {res['epochs_reported']}; "
            f"device {res.get('device', 'cpu')})"
        )
        rows = []
        for arch, t in w["times_s"].items():
            rows.append(
                [arch, _s(t["train"], 1), _s(t["test"], 1), _s(t["total"], 1),
                 f"{w['macs_per_crop'][arch] / 1e6:.0f}", f"{w['params'][arch] / 1e6:.1f}"]
            )  # fmt: skip
        out.append(_table(["net", "train s", "test s", "total s", "MMAC/crop", "M params"], rows))
        rows = []
        for other, r in w["paper_over"].items():
            seed = w["seed_paper_over"].get(other, {})
            mac = w["macs_per_crop"]["paper"] / w["macs_per_crop"][other]
            rows.append(
                [f"paper / {other}", _s(r["train"]), _s(r["test"]), _s(r["total"]),
                 " / ".join(f"{seed[p]:.2f}" for p in ("train", "test", "total")) if seed else "-",
                 f"{mac:.2f}"]
            )  # fmt: skip
        out.append(
            _table(
                ["ratio", "train", "test", "total", "seed train / test / total", "MAC ratio"],
                rows,
            )
        )
        del key
    return "\n\n".join(out)


def inference_md(res: dict[str, Any]) -> str:
    rows = []
    for r in res["rows"]:
        rows.append(
            [r["model"], r["backend"], _s(r["b1_tencrop_ms"]), _s(r["b1_single_ms"]),
             _s(r["b64_single_faces_per_s"], 0), _s(r["b64_tencrop_faces_per_s"], 0),
             _s(r["b1_tencrop_time_vs_eager"]), _s(r["b64_single_time_vs_eager"]),
             f"{r['peak_rise_mib']:.0f}"]
        )  # fmt: skip
    head = ["model", "backend", "1 face ten-crop ms", "1 face 1-crop ms", "b64 1-crop faces/s",
            "b64 ten-crop faces/s", "time/eager (1 face ten-crop)", "time/eager (b64 1-crop)",
            "peak MiB rise (b64 ten-crop)"]  # fmt: skip
    text = _table(head, rows)
    if res.get("skipped_backends"):
        text += "\n\nSkipped backends: " + "; ".join(
            f"{k}: {v}" for k, v in res["skipped_backends"].items()
        )
    return text


def grid_md(res: dict[str, Any]) -> str:
    rows = []
    for r in res["rows"]:
        rows.append(
            [r["model"], r["backend"], f"{r['width']}x{r['height']}", str(r["faces"]),
             _s(r["ms_per_frame"], 1), _s(r["fps"], 1), _s(r["detect_ms"], 1),
             _s(r["classify_ms"], 1), _s(r["time_vs_first_backend"]),
             f"{r['faces_found_per_frame']:.2f}"]
        )  # fmt: skip
    head = ["model", "backend", "frame", "faces", "ms/frame", "frames/s", "detect ms",
            "classify ms", f"time / {res['backends'][0]}", "faces found/frame"]  # fmt: skip
    if len(res["backends"]) == 1:  # a ratio to itself says nothing
        i = head.index(f"time / {res['backends'][0]}")
        head.pop(i)
        rows = [r[:i] + r[i + 1 :] for r in rows]
    s = res["setting"]
    intro = f"Haar scale {s['scale']}, full scan every {s['every']}, crops {_crops(res)}."
    return intro + "\n\n" + _table(head, rows)


def sweep_md(res: dict[str, Any]) -> str:
    c = res["clip"]
    rows = []
    for r in res["rows"]:
        rows.append(
            [r["model"], f"{r['scale']:g}", str(r["every"]), _s(r["fps"], 1),
             _s(r["speedup_vs_reference"]), f"{100 * r['missed_rate']:.1f}% "
             f"({r['missed']}/{r['reference_faces']})", str(r["extra_boxes"]),
             f"{100 * r['truth_found_rate']:.1f}%"]
        )  # fmt: skip
    head = ["model", "Haar scale", "full scan every", "frames/s", "speed-up vs reference",
            "missed vs reference", "extra boxes", "pasted faces found"]  # fmt: skip
    return (
        f"Clip: {c['frames']} frames {c['width']}x{c['height']}, {c['faces']} face(s); backend "
        f"{res['backend']}, crops {_crops(res)}; the reference (scale 1, every frame) finds "
        f"{100 * res['reference_found_rate']:.1f}% of the pasted faces.\n\n" + _table(head, rows)
    )


def live_md(res: dict[str, Any]) -> str:
    rows = []
    for r in res["rows"]:
        missed = f"{r['missed']}/{r['reference_faces']}" if r["reference_faces"] else "-"
        rows.append(
            [r["setting"], str(r["faces"]), _s(r["ms_per_frame"], 1), _s(r["time_vs_first"]),
             f"{r['min_ms_per_frame']:.1f}", f"{r['min_detect_ms']:.1f}",
             f"{r['min_classify_ms']:.1f}", f"{r['min_time_vs_first']:.2f}",
             f"{r['min_detect_vs_first']:.2f}", missed, str(r["extra_boxes"]),
             f"{100 * r['truth_found_rate']:.1f}%" if r["faces"] else "-"]
        )  # fmt: skip
    head = ["setting", "faces", "ms/frame", "time / first", "min ms/frame", "min detect ms",
            "min classify ms", "min time / first", "min detect / first",
            "missed vs reference", "extra boxes", "pasted faces found"]  # fmt: skip
    return (f"{res['width']}x{res['height']}, backend {res['backend']}, crops as the setting "
            f"says; first = {res['baseline']}; min = mean over frames of each "
            "frame's fastest repeat; reference for misses: full-resolution Haar on every frame."
            "\n\n"
            + _table(head, rows))


def offline_md(res: dict[str, Any]) -> str:
    rows = []
    for r in res["rows"]:
        rows.append(
            [r["contender"], _s(r["seconds"], 1), _s(r["frames_per_s"], 1),
             _s(r["x_real_time"]), _s(r["time_vs_first"]), str(r["frames_with_face"])]
        )  # fmt: skip
    head = ["contender", "seconds", "frames/s", "x real time", f"time / {res['baseline']}",
            "frames with a face"]  # fmt: skip
    return (f"{res['frames']} frames {res['width']}x{res['height']} at {res['fps']:g} frames/s "
            f"({res['video_s']:.1f} s of video), {res['faces']} face(s), MJPG AVI.\n\n"
            + _table(head, rows))
