"""Reusable end-to-end fixtures: a real `streamlit run dashboard/app.py` and Debian's chromium.

Use them from any test under tests/e2e/:

* ``start_app(log_root, auth_dir=None, **env) -> RunningApp``: starts the app on a free
  127.0.0.1 port with ``FER_LOG_ROOT=log_root`` and waits for ``/_stcore/health``; stopped at
  the end of the session. The app always requires a login (use ``login(page, ...)``): its
  accounts come from ``auth_dir`` (see ``make_auth_dir``), else from a fresh folder holding
  only the admin ``E2E_ADMIN``.
* ``make_auth_dir(path, **accounts)``: an auth folder with the admin ``E2E_ADMIN`` and more
  accounts (``name=role``), password ``E2E_PASSWORD``.
* ``login(page, username, password)``: fill and submit the login form, wait for the app.
* ``demo_store``: a temporary log store filled by ``python -m fer_core demo-data`` (small).
* ``demo_app``: the app running on ``demo_store`` with login required (one server).
* ``browser``: Playwright chromium (``/usr/bin/chromium``, never a downloaded build).
* ``page``: a fresh browser page (downloads enabled) per test.
* ``wait_for_streamlit(page)``: waits until the script finished running and every chart is drawn.
* ``rerun_after(page, action)``: does ``action`` (a widget change) and waits until the rerun it
  triggered has started and finished: a condition, never a fixed sleep.
* ``wait_until(check, timeout_s)``: polls ``check()`` until it returns something truthy.
* ``ARTIFACTS``: ``artifacts/`` (git-ignored) for screenshots and downloaded files.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fer_core.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "artifacts"


def fake_camera_args(y4m: Path) -> list[str]:
    """Chromium's arguments for a webcam that plays ``y4m`` (and grants the camera unasked)."""
    return [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m.resolve()}"]
STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


E2E_ADMIN = "e2e-admin"
E2E_PASSWORD = "e2e test password"


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen
    log_path: Path
    log_root: Path
    auth_dir: Path | None = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_healthy(app: RunningApp) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {app.process.returncode}:\n"
                               f"{app.log_text()}")
        try:
            with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit not healthy after {STARTUP_TIMEOUT_S}s:\n{app.log_text()}")


@pytest.fixture(scope="session")
def start_app(tmp_path_factory) -> Iterator[Callable[..., RunningApp]]:
    """Factory: start `streamlit run dashboard/app.py` on a log store; all stopped at the end."""
    apps: list[RunningApp] = []

    def start(log_root: Path, script: str = "dashboard/app.py", auth_dir: Path | None = None,
              **env: str) -> RunningApp:
        port = free_port()
        log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
        if auth_dir is None:  # never write auth files beside a test's log store
            auth_dir = make_auth_dir(tmp_path_factory.mktemp("auth"))
        full_env = {**os.environ, "FER_LOG_ROOT": str(log_root), "FER_TIMEZONE": "UTC",
                    "PYTHONPATH": str(PROJECT_ROOT), "FER_AUTH_DIR": str(auth_dir), **env}
        cmd = [sys.executable, "-m", "streamlit", "run", script,
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--global.developmentMode", "false"]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=full_env, stdout=log,
                                    stderr=subprocess.STDOUT)
        app = RunningApp(f"http://127.0.0.1:{port}", proc, log_path, Path(log_root), auth_dir)
        apps.append(app)
        _wait_healthy(app)
        return app

    yield start
    for app in apps:
        app.process.terminate()
        try:
            app.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.process.kill()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> Path:
    """A log store filled with small synthetic demo data through the real CLI."""
    root = tmp_path_factory.mktemp("demo_store")
    result = subprocess.run(
        [sys.executable, "-m", "fer_core", "demo-data", "--root", str(root), "--sessions", "6",
         "--minutes", "3", "--fps", "10"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return root


def make_auth_dir(path: Path, **accounts: str) -> Path:
    """An auth folder with the admin E2E_ADMIN and ``accounts`` (name=role), all E2E_PASSWORD."""
    from fer_core.auth import Auth, Principal, Role

    auth = Auth(path)
    if auth.needs_setup():
        auth.setup_admin(E2E_ADMIN, E2E_PASSWORD)
    admin = Principal(E2E_ADMIN, Role.ADMIN)
    for name, role in accounts.items():
        auth.create_account(admin, name, E2E_PASSWORD, Role(role))
    return path


def login(page, username: str = E2E_ADMIN, password: str = E2E_PASSWORD) -> None:
    """Log in through the form on the current page and wait until the app has loaded."""
    wait_for_streamlit(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_text("Logged in as").wait_for(timeout=60_000)
    wait_for_streamlit(page)


@pytest.fixture(scope="session")
def demo_app(start_app, demo_store, tmp_path_factory) -> RunningApp:
    return start_app(demo_store, auth_dir=make_auth_dir(tmp_path_factory.mktemp("demo_auth")))


@pytest.fixture(scope="module")
def browser():
    """Debian chromium through Playwright's sync API, one per test module.

    Module scope, not session: the sync API runs an event loop in this thread while it is open,
    and modules that launch chromium with their own flags (the fake-webcam tests) start their own
    ``sync_playwright()``, which refuses to start inside a running loop.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    yield pg
    context.close()


def wait_for_streamlit(page, timeout_ms: int = 60_000) -> None:
    """Wait until the app is connected and its script has finished running."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-testid="stSkeleton"]');
        }""",
        timeout=timeout_ms,
    )
    page.wait_for_function(CHARTS_DRAWN, timeout=timeout_ms)


#: Every plotly chart on the page has drawn its SVG at its container's width.
CHARTS_DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(el => {
    const svg = el.querySelector('.main-svg');
    return svg && Math.abs(svg.getBoundingClientRect().width
                           - el.getBoundingClientRect().width) < 2;
})"""

#: Installs a watcher that notes when the app's script starts running (after this call).
_WATCH_RERUN = """() => {
    window.__ferRerun = false;
    const seen = () => { window.__ferRerun = true; observer.disconnect(); };
    const observer = new MutationObserver(records => {
        if (records.some(r => r.oldValue === 'running'
                         || r.target.getAttribute('data-test-script-state') === 'running')) seen();
    });
    // the whole document: the app's root element may be re-rendered during the rerun
    observer.observe(document.body, {attributes: true, attributeOldValue: true, subtree: true,
                                     attributeFilter: ['data-test-script-state']});
}"""


def rerun_after(page, action: Callable[[], object], timeout_ms: int = 60_000) -> None:
    """Run ``action`` (a widget change) and wait until the rerun it triggers has finished."""
    page.evaluate(_WATCH_RERUN)
    action()
    page.wait_for_function("() => window.__ferRerun === true", timeout=timeout_ms)
    wait_for_streamlit(page, timeout_ms)


def wait_until(check: Callable[[], object], timeout_s: float, interval_s: float = 0.25,
               tick: Callable[[float], object] = time.sleep) -> object:
    """Poll ``check()`` until it returns something truthy (returned) or ``timeout_s`` passes
    (the last value is returned; the caller's assertions say what is missing).

    ``tick(seconds)`` waits between polls (``page.wait_for_timeout`` in ms keeps Playwright's
    event loop running: pass ``lambda s: page.wait_for_timeout(1000 * s)``).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        tick(interval_s)


def url_when(page, check: Callable[[str], object], timeout_s: float = 30.0) -> str:
    """The page's address once ``check(url)`` holds, or the last one seen after ``timeout_s``
    (the caller's assertions then say what is missing).

    Streamlit writes ``st.query_params`` to the address bar in messages of their own; one can
    land after the rerun's end is already visible (a CI run saw ``mode=`` written but not yet
    ``a_period=``), so reading ``page.url`` once right after a rerun is a race.
    """
    seen = wait_until(lambda: page.url if check(page.url) else None, timeout_s,
                      tick=lambda s: page.wait_for_timeout(1000 * s))
    return seen or page.url


def full_screenshot(page, path: Path) -> None:
    """Screenshot of the whole page: Streamlit scrolls inside its main block, not the window,
    so grow the viewport to the content's height first."""
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }")
    size = page.viewport_size or {"width": 1400, "height": 1000}
    page.set_viewport_size({"width": size["width"], "height": max(int(height) + 40, 600)})
    page.wait_for_function(CHARTS_DRAWN, timeout=30_000)  # plotly redraws on resize
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
