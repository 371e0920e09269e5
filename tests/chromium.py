"""A small driver for headless Chromium over the DevTools protocol, for the website tests.

It starts Debian's ``chromium`` with a fresh profile and no network beyond 127.0.0.1, opens one
tab, and exposes the few protocol calls the tests need: navigate and wait for the load event,
evaluate JavaScript (awaiting promises), take a screenshot, and the list of requests, failed
loads and JavaScript errors seen since the last navigation.
Protocol reference: https://chromedevtools.github.io/devtools-protocol/
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import itertools
import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import websocket

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    # Every host name except the local server's fails to resolve: the site must need no network.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--window-size=1280,1000",
]


def chromium_executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class SiteServer:
    """Serve a folder on 127.0.0.1 at a free port, from a background thread."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@dataclass
class PageLog:
    """What one page load did: every URL requested, failed loads, HTTP errors, JS exceptions."""

    requests: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)


class Chromium:
    """One headless Chromium with one tab, driven through the DevTools protocol."""

    def __init__(self, executable: str, profile_dir: Path, timeout: float = 30.0):
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        self._urls: dict[str, str] = {}  # request id -> URL, to name failed requests
        self.log = PageLog()
        self._process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            # No Origin header: Chromium refuses DevTools connections from an origin it was not told
            # to allow (--remote-allow-origins), and this client is no web page.
            self._ws = websocket.create_connection(
                self._browser_endpoint(profile_dir), timeout=timeout, suppress_origin=True
            )
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Network", "Runtime"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _browser_endpoint(self, profile_dir: Path) -> str:
        # With --remote-debugging-port=0 Chromium picks a free port and writes it, with the
        # browser's websocket path, to DevToolsActivePort in the profile.
        active = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self._process.returncode} at start-up")
            lines = active.read_text().split() if active.is_file() else []
            if len(lines) == 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise TimeoutError(f"chromium did not open its DevTools port within {self.timeout} s")

    def close(self) -> None:
        if getattr(self, "_ws", None) is not None:
            self._ws.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- protocol -------------------------------------------------------------------------------
    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self._record(reply)
        raise TimeoutError(f"no reply to {method} within {self.timeout} s")

    def call(self, method: str, params: dict | None = None) -> dict:
        return self._call(method, params, self._session)

    def _record(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            self.log.requests.append(params["request"]["url"])
            self._urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.log.failures.append(f"{params.get('errorText')} {self._urls.get(params['requestId'], '(unknown URL)')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            self.log.failures.append(f"HTTP {params['response']['status']} {params['response']['url']}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.log.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
        self._events.append(event)

    def _wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i)
            self._ws.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self._record(json.loads(self._ws.recv()))
            finally:
                self._ws.settimeout(self.timeout)
        raise TimeoutError(f"no {method} event within {self.timeout} s")

    # -- what the tests use ---------------------------------------------------------------------
    def open(self, url: str) -> PageLog:
        """Load ``url`` and wait for its load event; return the log of this load."""
        self._events.clear()
        self.log = PageLog()
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise RuntimeError(f"could not load {url}: {result['errorText']}")
        self._wait_for("Page.loadEventFired")
        return self.log

    def evaluate(self, expression: str):
        """Evaluate a JavaScript expression in the page (awaiting a promise) and return its value."""
        result = self.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True, "timeout": self.timeout * 1000,
        })
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, clip: dict | None = None) -> None:
        """Save the viewport (or ``clip``: x, y, width, height in CSS pixels) as a PNG."""
        params = {"format": "png"}
        if clip is not None:
            params.update(clip={**clip, "scale": 1}, captureBeyondViewport=True)
        data = self.call("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))


@contextlib.contextmanager
def page_in_chromium(body: str, root: Path, profile: Path):
    """Serve ``body`` as ``root/index.html`` and open it: yields (chromium, log, base url).

    Skips the calling test when Chromium is not installed.
    """
    import pytest

    executable = chromium_executable()
    if executable is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    (root / "index.html").write_text(f"<!doctype html><html><body>{body}</body></html>")
    with SiteServer(root) as server, Chromium(executable, profile) as chromium:
        yield chromium, chromium.open(server.url + "index.html"), server.url
