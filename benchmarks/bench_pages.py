"""Benchmark: how long each review page and annotation takes in a real browser (issue 19, item 6).

What a user waits for, not what one function costs: a real ``streamlit run dashboard/app.py``
on a temporary store filled by ``python -m fer_core demo-data`` (its defaults: 8 sessions of 6
minutes at 10 frames/s per demo subject), driven by Debian's chromium through Playwright. Each
figure is the time from the user's click until the script is idle and every chart on the page
has drawn its SVG (the e2e fixtures' ``wait_for_streamlit``, which also counts the charts).

Per round (``--rounds``, default 5) a **fresh server** is started (empty Streamlit caches) and:

* ``login -> Overview``: submit the login form until the Overview is drawn;
* ``first open <page>``: the first visit of Subject history, Session summary, Compare (sidebar
  link), and Overview again (its caches are warm from the login, so that is its steady state);
* ``steady <page>``: every page opened again (``--steady`` times each, caches warm);
* ``save a note``: a changed note typed (and committed) first, then the click on *Save notes*
  until the page is idle again with the saved text;
* ``add a segment``: a label typed first, then the click on *Add segment* (a point marker at
  the form's default start) until the page is idle and the segment is in the store.

Medians over the rounds (steady: over rounds x ``--steady``) are printed as a Markdown table,
with the machine's load average before and after (the machine may be shared: a loaded machine
makes every figure longer). No figure here is asserted anywhere; tests never time things.

Usage:
    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_pages.py [--rounds 5] [--steady 2]
    # before/after on the same machine load: rounds of two checkouts alternate
    ... bench_pages.py --app-root /tmp/before --app-root .
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core.logstore import LogStore  # noqa: E402
from tests.e2e.conftest import (  # noqa: E402  (the e2e fixtures' helpers, reused as they are)
    CHROMIUM,
    CHROMIUM_ARGS,
    RunningApp,
    _wait_healthy,
    free_port,
    login,
    make_auth_dir,
    rerun_after,
    wait_for_streamlit,
)

PAGES = ["Subject history", "Session summary", "Compare", "Overview"]

#: Every chart the script sent is in the DOM and drawn: Streamlit renders a plotly element
#: lazily, so "script idle" alone can pass before a chart exists (CHARTS_DRAWN is vacuous then).
ALL_CHARTS_DRAWN = """() => {
    const sent = document.querySelectorAll('[data-testid="stPlotlyChart"]').length;
    const drawn = Array.from(document.querySelectorAll('.js-plotly-plot')).filter(el => {
        const svg = el.querySelector('.main-svg');
        return svg && Math.abs(svg.getBoundingClientRect().width
                               - el.getBoundingClientRect().width) < 2;
    }).length;
    return drawn >= sent;
}"""


def settled(page) -> None:
    """Script idle and every chart drawn."""
    wait_for_streamlit(page)
    page.wait_for_function(ALL_CHARTS_DRAWN, timeout=60_000)


def timed(page, action) -> float:
    """Seconds from ``action`` (which triggers a rerun) until the page has settled."""
    t0 = time.perf_counter()
    rerun_after(page, action)
    settled(page)
    return time.perf_counter() - t0


def open_page(page, title: str) -> float:
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)
    seconds = timed(page, link.click)
    heading = {"Subject history": "Subject history", "Session summary": "Session",
               "Compare": "Compare", "Overview": "Overview"}[title]
    page.get_by_role("heading", name=heading).first.wait_for(timeout=10_000)
    return seconds


def save_note(page, text: str, store: Path) -> float:
    """Seconds from the click on *Save notes* until the page is idle again; the note is then
    checked in the store (the "Notes saved" toast can vanish before a loaded machine looks)."""
    area = page.get_by_role("textbox", name="Notes", exact=True)
    area.fill(text)
    rerun_after(page, lambda: area.press("Control+Enter"))  # commit the widget's value first
    settled(page)
    button = page.get_by_role("button", name="Save notes")
    t0 = time.perf_counter()
    rerun_after(page, button.click)
    settled(page)
    seconds = time.perf_counter() - t0
    query = parse_qs(urlsplit(page.url).query)
    meta = LogStore(store).session_meta(query["subject"][0], query["session"][0])
    if meta.notes != text:
        raise RuntimeError(f"the note was not saved: {meta.notes!r}")
    return seconds


def add_segment(page, label: str, store: Path) -> float:
    """Seconds from the click on *Add segment* (a point marker at the form's default start,
    its label typed and committed first) until the page is idle again; the segment is then
    checked in the store."""
    box = page.get_by_role("textbox", name="Segment label", exact=True)
    box.fill(label)
    rerun_after(page, lambda: box.press("Enter"))
    settled(page)
    button = page.get_by_role("button", name="Add segment")
    t0 = time.perf_counter()
    rerun_after(page, button.click)
    settled(page)
    seconds = time.perf_counter() - t0
    query = parse_qs(urlsplit(page.url).query)
    meta = LogStore(store).session_meta(query["subject"][0], query["session"][0])
    if label not in {seg.label for seg in meta.segments}:
        raise RuntimeError(f"the segment {label!r} was not saved")
    return seconds


def start_server(store: Path, auth_dir: Path, log_path: Path, app_root: Path = ROOT
                 ) -> RunningApp:
    port = free_port()
    env = {**os.environ, "FER_LOG_ROOT": str(store), "FER_TIMEZONE": "UTC",
           "PYTHONPATH": str(app_root), "FER_AUTH_DIR": str(auth_dir)}
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--global.developmentMode", "false"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=app_root, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}", proc, log_path, store, auth_dir)
    _wait_healthy(app)
    return app


def one_round(browser, store: Path, auth_dir: Path, work: Path, k: int, steady: int,
              out: dict[str, list[float]], app_root: Path = ROOT) -> None:
    app = start_server(store, auth_dir, work / f"server-{k}-{app_root.name}.log", app_root)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(app.url)
        wait_for_streamlit(page)
        t0 = time.perf_counter()
        login(page)
        settled(page)
        out["login -> Overview"].append(time.perf_counter() - t0)
        for title in PAGES:
            out[f"first open {title}"].append(open_page(page, title))
        for _ in range(steady):
            for title in PAGES:
                out[f"steady {title}"].append(open_page(page, title))
        open_page(page, "Session summary")
        out["save a note"].append(save_note(page, f"benchmark note {k} {time.time()}", store))
        out["add a segment"].append(add_segment(page, f"bench segment {k}", store))
        context.close()
    finally:
        app.process.terminate()
        try:
            app.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh servers (first opens)")
    parser.add_argument("--steady", type=int, default=2, help="steady opens per page per round")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw times here")
    parser.add_argument("--app-root", type=Path, action="append", default=None,
                        help="run the app from this checkout (repeat to compare checkouts: "
                             "their rounds alternate, so all meet the same machine load)")
    args = parser.parse_args(argv)
    roots = [p.resolve() for p in (args.app_root or [ROOT])]
    if not CHROMIUM.exists():
        print("Debian chromium is needed at /usr/bin/chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    store = work / "store"
    subprocess.run([sys.executable, "-m", "fer_core", "demo-data", "--root", str(store)],
                   cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    auth_dir = make_auth_dir(work / "auth")
    load_before = os.getloadavg()
    outs: dict[Path, dict[str, list[float]]] = {r: defaultdict(list) for r in roots}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for k in range(args.rounds):
                    for app_root in roots:
                        try:
                            one_round(browser, store, auth_dir, work, k, args.steady,
                                      outs[app_root], app_root)
                        except Exception as exc:  # a round lost, not the whole run
                            outs[app_root]["failed rounds"].append(k)
                            print(f"round {k + 1} of {app_root} failed: {exc}",
                                  file=sys.stderr, flush=True)
                    print(f"round {k + 1}/{args.rounds} done", file=sys.stderr, flush=True)
            finally:
                browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"# load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/"
          f"{load_after[2]:.2f}")
    for app_root, out in outs.items():
        print(f"\n{app_root}:\n\n| what | median | runs (s) |\n|---|---|---|")
        for name, times in out.items():
            if name == "failed rounds":
                print(f"| failed rounds | {len(times)} | {times} |")
                continue
            print(f"| {name} | **{statistics.median(times):.2f} s** | "
                  f"{', '.join(f'{t:.2f}' for t in times)} |")
    if args.json:
        args.json.write_text(json.dumps({"load_before": load_before, "load_after": load_after,
                                         "times": {str(r): o for r, o in outs.items()}},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
