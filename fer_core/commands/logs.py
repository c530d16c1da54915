"""``python -m fer_core logs``: inspect, repair, export and import the expression log store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "logs"
HELP = ("Log store maintenance: list subjects/sessions, repair sessions whose writer was killed, "
        "export (csv/parquet/zip) and import a ZIP.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=None,
                        help="log store root (default: $FER_LOG_ROOT, fer.toml, or ./logs)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list subjects, or the sessions of --subject")
    ls.add_argument("--subject", default=None)
    sub.add_parser("repair", help="compact and close sessions whose writer died; rewrite "
                   "missing or stale session summaries")
    ex = sub.add_parser("export", help="export a session, a subject or everything")
    ex.add_argument("--format", choices=("csv", "parquet", "zip"), default="zip")
    ex.add_argument("--subject", default=None)
    ex.add_argument("--session", default=None)
    ex.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    im = sub.add_parser("import", help="import an export ZIP")
    im.add_argument("zip", type=Path)
    im.add_argument("--skip-existing", action="store_true",
                    help="import only sessions not already in the store")


def run(args: argparse.Namespace) -> int:
    import logging

    from fer_core.logstore import LogStore

    log = logging.getLogger("fer_core.logstore")
    store = LogStore(args.root)
    try:
        if args.action == "list":
            df = store.list_sessions(args.subject) if args.subject else store.list_subjects()
            sys.stdout.write(df.to_string(index=False) + "\n")
        elif args.action == "repair":
            done = store.repair()
            log.info("repaired %d session(s): %s", len(done),
                     ", ".join(f"{s}/{x}" for s, x in done) or "-")
            from fer_core.logstore.summary_file import refresh_summaries

            summarised = refresh_summaries(store.root, fsync=store.fsync)
            log.info("wrote %d missing or stale session summary(ies): %s", len(summarised),
                     ", ".join(f"{s}/{x}" for s, x in summarised) or "-")
        elif args.action == "export":
            data = store.export(args.format, args.subject, args.session)
            args.output.write_bytes(data)
            log.info("wrote %s (%d bytes)", args.output, len(data))
        elif args.action == "import":
            done = store.import_zip(args.zip, skip_existing=args.skip_existing)
            log.info("imported %d session(s) into %s", len(done), store.root)
    except (ValueError, LookupError, OSError) as exc:  # user errors: one line, exit 2
        log.error("%s", exc)
        return 2
    return 0
