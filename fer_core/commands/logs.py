"""``python -m fer_core logs``: inspect, repair, export and import the expression log store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NAME = "logs"
HELP = ("Log store maintenance: list subjects/sessions, repair sessions whose writer was killed, "
        "export (csv/parquet/zip) and import a ZIP; publish finished sessions to the central "
        "store and optimize its tables.")


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
    pub = sub.add_parser("publish", help="commit finished sessions to the central store "
                         "(idempotent; retries conflicts)")
    pub.add_argument("--subject", default=None)
    pub.add_argument("--session", default=None, help="one session (needs --subject)")
    pub.add_argument("--all", action="store_true", help="every finished session of the store")
    pub.add_argument("--central", default=None,
                     help="central store (default: $FER_CENTRAL_STORE or fer.toml [central])")
    opt = sub.add_parser("optimize", help="compact the central tables' small files")
    opt.add_argument("--central", default=None,
                     help="central store (default: $FER_CENTRAL_STORE or fer.toml [central])")


def run(args: argparse.Namespace) -> int:
    import logging

    from fer_core.logstore import LogStore

    log = logging.getLogger("fer_core.logstore")
    store = LogStore(args.root)
    try:
        if args.action == "list":
            sessions = store.list_sessions(args.subject)
            df = sessions if args.subject else store.list_subjects()
            # notes are free text with line breaks (they stay in `_session.json`), not a column
            shown = df.drop(columns=["damage", "notes"], errors="ignore")
            sys.stdout.write(shown.to_string(index=False) + "\n")
            damaged = sessions.loc[sessions["damage"] != ""]
            if not damaged.empty:  # said plainly, not hidden in a wide column
                sys.stdout.write(f"\n{len(damaged)} damaged session(s) (`logs repair` rebuilds "
                                 "what can be read; what it could not stays on record):\n")
                for row in damaged.itertuples():
                    sys.stdout.write(f"  {row.subject}/{row.session}: {row.damage}\n")
        elif args.action == "repair":
            from fer_core.logstore.summary_file import refresh_summaries

            results = store.repair_report()
            for r in results:
                sys.stdout.write(r.summary() + "\n")
            sys.stdout.write(f"repaired {len(results)} session(s)\n")
            summarised = refresh_summaries(store.root, fsync=store.fsync)
            sys.stdout.write(f"wrote {len(summarised)} missing or stale session summary(ies)\n")
            lost = [r for r in results if r.unreadable]
            if lost:
                log.error("%d session(s) had data that could not be read (set aside as "
                          "_damaged-*.quarantined files, listed above and recorded in each "
                          "session's _session.json)", len(lost))
                return 1
        elif args.action == "export":
            data = store.export(args.format, args.subject, args.session)
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:  # identified people's data: owner-only, like the store
                fh.write(data)
            log.info("wrote %s (%d bytes)", args.output, len(data))
        elif args.action == "import":
            done = store.import_zip(args.zip, skip_existing=args.skip_existing)
            log.info("imported %d session(s) into %s", len(done), store.root)
        elif args.action == "publish":
            return _publish(store, args)
        elif args.action == "optimize":
            from fer_core.central import maintenance
            from fer_core.central.location import require_central

            for result in maintenance.optimize(require_central(args.central)):
                sys.stdout.write(result.summary() + "\n")
    except (ValueError, LookupError, OSError) as exc:  # user errors: one line, exit 2
        log.error("%s", exc)
        return 2
    except RuntimeError as exc:  # CentralError: already redacted, one line
        log.error("%s", exc)
        return 1
    return 0


def _publish(store, args: argparse.Namespace) -> int:
    """``logs publish``: one session, one subject's or all finished sessions; one line each."""
    from fer_core.central.location import require_central
    from fer_core.central.publish import publish_all, publish_session

    if args.session is not None and args.subject is None:
        raise ValueError("--session needs --subject")
    if args.subject is None and not args.all:
        raise ValueError("say what to publish: --subject S [--session X], or --all")
    central = require_central(args.central)
    central.require_site()
    if args.session is not None:
        results = [publish_session(store, central, args.subject, args.session)]
    else:
        results = publish_all(store, central, args.subject)
    for r in results:
        sys.stdout.write(r.summary() + "\n")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.action] = counts.get(r.action, 0) + 1
    sys.stdout.write(f"{len(results)} session(s) to {central}: "
                     + (", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "none")
                     + "\n")
    return 1 if any(r.action == "failed" for r in results) else 0
