"""``python -m fer_core analyze PATH --subject S``: a video, image or image folder -> the logs."""

from __future__ import annotations

import argparse

NAME = "analyze"
HELP = ("Analyse a video file, an image or a folder of images with the same per-frame pipeline "
        "as live recording, and log the predictions as a new session.")
#: Exit statuses (docs/recording.md): every input analysed; bad call or nothing analysable
#: (nothing written); a session was written but some inputs were skipped (listed on stderr).
EXIT_OK, EXIT_BAD_INPUT, EXIT_SOME_SKIPPED = 0, 2, 3
EPILOG = ("exit status: 0 every input analysed; 2 bad call or no analysable frame (nothing "
          "written); 3 session written, but some inputs were skipped (each listed with its "
          "reason). Images too large are shrunk before detection, too small or absurdly large "
          "ones skipped; the limits are in docs/recording.md.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("path", help="video file, image file or folder of images")
    parser.add_argument("--subject", required=True, help="subject id (letters, digits, _ - .)")
    parser.add_argument("--session", default=None,
                        help="session id (default: generated from the start time)")
    parser.add_argument("--root", default=None,
                        help="log store root (default: $FER_LOG_ROOT or ./logs)")
    parser.add_argument("--model", default=None,
                        help="shipped model name or model file (default: $FER_MODEL or 'fast')")
    parser.add_argument("--start", default=None,
                        help="wall-clock time of the video's first frame, ISO 8601 with offset "
                             "(default: now); frames are stamped start + their position")
    parser.add_argument("--every", type=int, default=1,
                        help="analyse every n-th video frame (default: all)")
    parser.add_argument("--image-time", choices=("mtime", "now"), default="mtime",
                        help="timestamp of an image: its modification time or now")
    parser.add_argument("--label", default="", help="session label")
    parser.add_argument("--notes", default="", help="session notes")
    parser.add_argument("--operator", default="", help="who ran the analysis (kept in the "
                        "session metadata, as the Record page keeps its signed-in user)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import logging
    from datetime import datetime

    from fer_core.analyze import analyze_source, default_pipeline, open_media
    from fer_core.logstore import InvalidIdError, LogStore, SessionExistsError
    from fer_core.session_info import SessionInfo

    log = logging.getLogger("fer_core.analyze")
    try:  # the ids are checked here, by SessionInfo, before any input is opened
        info = SessionInfo(args.subject, args.session, operator=args.operator, label=args.label,
                           notes=args.notes)
        start = datetime.fromisoformat(args.start) if args.start else None
    except (InvalidIdError, ValueError) as exc:
        log.error("%s", exc)
        return EXIT_BAD_INPUT
    # inputs and model are checked before the session exists: a bad call writes nothing
    media = open_media(args.path, start=start, every=args.every, image_time=args.image_time)
    pipeline = default_pipeline(args.model, info.settings)
    try:
        result = analyze_source(media, pipeline, LogStore(args.root), info,
                                progress=not args.no_progress)
    except SessionExistsError as exc:
        log.error("%s (choose another --session)", exc)
        return EXIT_BAD_INPUT
    log.info("done: subject=%s session=%s frames=%d with_face=%d rows=%d skipped=%d "
             "downscaled=%d", result.subject, result.session, result.frames,
             result.frames_with_face, result.rows, len(result.skipped), len(result.downscaled))
    from fer_core.central.background import publish_now

    store = LogStore(args.root)
    status = publish_now(store.root, result.subject, result.session)
    if status:  # a central store is configured: said either way, never an exit status
        log.info("central store: %s", status)
    if result.skipped:
        log.warning("%d input(s) skipped (exit status %d):\n%s", len(result.skipped),
                    EXIT_SOME_SKIPPED, "\n".join(f"  {s}" for s in result.skipped))
        return EXIT_SOME_SKIPPED
    return EXIT_OK
