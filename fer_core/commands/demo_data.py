"""``python -m fer_core demo-data``: fill the log store with synthetic sessions to try the app."""

from __future__ import annotations

import argparse

NAME = "demo-data"
HELP = ("Write realistic SYNTHETIC expression sessions (marked synthetic everywhere) into the "
        "log store so the dashboard can be tried at once.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=None,
                        help="log store root (default: $FER_LOG_ROOT or ./logs)")
    parser.add_argument("--sessions", type=int, default=8, help="sessions per demo subject")
    parser.add_argument("--minutes", type=float, default=6.0, help="length of each session")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second")
    parser.add_argument("--seed", type=int, default=8, help="random seed (same seed, same data)")
    parser.add_argument("--replace", action="store_true",
                        help="delete and regenerate demo subjects that already exist")


def run(args: argparse.Namespace) -> int:
    import logging

    from fer_core.demo_data import generate_demo_store

    log = logging.getLogger("fer_core.demo_data")
    if args.sessions < 1 or args.minutes <= 0 or args.fps <= 0:
        log.error("--sessions must be >= 1, --minutes and --fps > 0")
        return 2
    try:
        written = generate_demo_store(
            args.root, sessions_per_subject=args.sessions, minutes=args.minutes, fps=args.fps,
            seed=args.seed, replace=args.replace,
        )
    except FileExistsError as exc:
        log.error("%s", exc)
        return 1
    subjects = sorted({s for s, _ in written})
    log.info("%d synthetic sessions for %s; start the app with `make app`", len(written),
             ", ".join(subjects))
    return 0
