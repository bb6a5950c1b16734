"""A small headless-Chromium driver for the report's browser test: the DevTools protocol over a pipe.

Chromium started with ``--remote-debugging-pipe`` reads DevTools commands (JSON, each ended by a NUL
byte) from file descriptor 3 and writes replies and events to descriptor 4. That is all this needs: no
driver binary, no WebSocket library, no Python package. Every page load records the URLs the page
asked the network stack for (``Network.requestWillBeSent``) and the Content-Security-Policy violations
the page reported (a listener installed before the page's own scripts run).

The browser runs with a fresh profile, without background networking, and behind a proxy that refuses
every connection, so even a request the page should not make goes nowhere.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["BROWSER_NAMES", "Chromium", "ChromiumError", "PageLoad", "find_chromium"]

#: Executable names tried in order (``$MEMLAB_CHROMIUM`` first, when set).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
#: Installed before any script of the page runs: collects Content-Security-Policy violations.
_CSP_RECORDER = (
    "window.__cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', function (e) {"
    " window.__cspViolations.push(e.blockedURI + ' (' + e.violatedDirective + ')'); });"
)
_LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


class ChromiumError(RuntimeError):
    """The browser did not start, did not answer in time, or answered with an error."""


def find_chromium() -> tuple[str | None, str]:
    """``(path, "")`` of a working Chromium, or ``(None, reason)`` when there is none."""
    candidates = [os.environ["MEMLAB_CHROMIUM"]] if os.environ.get("MEMLAB_CHROMIUM") else []
    candidates += [found for name in BROWSER_NAMES if (found := shutil.which(name))]
    if not candidates:
        return None, (
            f"no Chromium found (looked for {', '.join(BROWSER_NAMES)} on PATH and $MEMLAB_CHROMIUM); "
            "install it with the system package manager, e.g. `apt-get install chromium`"
        )
    reasons = []
    for path in candidates:
        try:
            result = subprocess.run([path, "--headless", "--version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"{path}: {exc}")
            continue
        if result.returncode == 0 and "chrom" in result.stdout.lower():
            return path, ""
        reasons.append(f"{path} --version failed: {(result.stdout + result.stderr).strip()[:200]}")
    return None, "no working Chromium: " + "; ".join(reasons)


class PageLoad:
    """What one page load showed: the requests it made, its CSP violations, and the session to query it."""

    def __init__(self, browser: Chromium, session: str, requests: list[str]):
        self.browser = browser
        self.session = session
        self.requests = requests

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        reply = self.browser.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=self.session
        )
        if "exceptionDetails" in reply:
            raise ChromiumError(f"page script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    @property
    def external_requests(self) -> list[str]:
        """Requests to anything but the local file system and inline data."""
        return [url for url in self.requests if not url.startswith(_LOCAL_SCHEMES)]

    @property
    def csp_violations(self) -> list[str]:
        return list(self.evaluate("window.__cspViolations || []"))

    def screenshot(self, path: Path, *, width: int = 1280, max_height: int = 12000) -> Path:
        """A PNG of the whole page (at most ``max_height`` CSS pixels tall)."""
        metrics = self.browser.call("Page.getLayoutMetrics", session=self.session)
        height = min(int(metrics["cssContentSize"]["height"]) + 1, max_height)
        shot = self.browser.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
            session=self.session,
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.browser.targets.pop(self.session)})


class _Process:
    """A child started by ``os.posix_spawn`` in its own session, with chosen descriptors; poll / wait / kill."""

    def __init__(self, argv: list[str], *, log: int, descriptors: dict[int, int]):
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log, 1),
            (os.POSIX_SPAWN_DUP2, log, 2),
        ]
        actions += [(os.POSIX_SPAWN_DUP2, source, target) for target, source in descriptors.items()]
        self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=True)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"process {self.pid} still running after {timeout} s")
            time.sleep(0.05)
        return self.returncode

    def kill_group(self) -> None:
        """If the child still runs: SIGKILL to the session it leads (only processes this driver started)."""
        if self.poll() is not None:  # exited and reaped: its id may belong to someone else by now
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait(timeout=10)


class Chromium:
    """A headless Chromium process driven through ``--remote-debugging-pipe``. Use as a context manager."""

    def __init__(self, executable: str, *, timeout: float = 60.0, log: Path | None = None):
        self.timeout = timeout
        self.targets: dict[str, str] = {}
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        self._profile = tempfile.mkdtemp(prefix="memlab-chromium-")
        self._log = open(log or os.devnull, "wb")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # posix_spawn puts the pipe ends on the child's descriptors 3 and 4 with no Python code between fork
        # and exec (safe beside JAX's threads); copies at >= 10 cannot collide with 3 and 4 while doing so.
        child_read, child_write = (
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_read, from_browser_write)
        )
        for fd in (to_browser_read, from_browser_write):
            os.close(fd)
        try:
            self.process = _Process(
                [executable, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
                log=self._log.fileno(),
                descriptors={3: child_read, 4: child_write},
            )
        finally:
            os.close(child_read)
            os.close(child_write)

    # -- protocol ------------------------------------------------------------------------------------

    def _send(self, method: str, params: dict | None, session: str | None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no answer from Chromium within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ChromiumError(f"Chromium closed the pipe (exit code {self.process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, *, session: str | None = None) -> dict:
        """Send a command and wait for its result (events that arrive meanwhile are kept)."""
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise ChromiumError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def _drain(self, seconds: float) -> None:
        """Keep every event that arrives within ``seconds`` (requests a page makes after its load event)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                message = self._read(deadline)
            except ChromiumError:
                if self.process.poll() is not None:
                    raise
                return
            if "method" in message:
                self._events.append(message)

    def _wait_event(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == session:
                    return self._events.pop(i)
            message = self._read(deadline)
            if "method" in message:
                self._events.append(message)

    # -- pages ---------------------------------------------------------------------------------------

    def load(self, url: str, *, width: int = 1280, height: int = 900) -> PageLoad:
        """Open ``url`` in a new tab, wait for its load event and half a second more; record its requests."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.targets[session] = target
        for method in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.call(method, session=session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": _CSP_RECORDER}, session=session)
        self._events = [e for e in self._events if e.get("sessionId") != session]
        self.call("Page.navigate", {"url": url}, session=session)
        self._wait_event("Page.loadEventFired", session)
        self._drain(0.5)
        requests = [
            e["params"]["request"]["url"]
            for e in self._events
            if e["method"] == "Network.requestWillBeSent" and e.get("sessionId") == session
        ]
        return PageLoad(self, session, requests)

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self._send("Browser.close", None, None)
                    self.process.wait(timeout=10)
                except (OSError, TimeoutError):
                    pass
            self.process.kill_group()  # whatever of its own process group is left (renderers, zygote)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
