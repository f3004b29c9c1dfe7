"""Headless Chromium for tests, driven over the DevTools protocol through a pipe (`--remote-debugging-pipe`:
no port is opened, nothing but the file system is reached). A test opens a page and sees what a person
would: the rendered DOM, every request the page made, every console message and error, a screenshot.

    with Browser.start(profile_dir) as browser:
        page = browser.open("file:///.../index.html")
        page.evaluate("document.title"); page.requests; page.errors; page.screenshot(path)
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
]
TIMEOUT = 30.0
ARTIFACTS: list[Path] = []  # files tests keep for people to look at (listed at the end of the test run)


def chromium() -> str | None:
    """The Chromium binary of this machine (Debian's `chromium`), if any."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class BrowserError(Exception):
    pass


@dataclass
class Page:
    browser: Browser
    session: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions, failed loads
    loaded: threading.Event = field(default_factory=threading.Event)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def goto(self, url: str) -> None:
        self.loaded.clear()
        answer = self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"cannot open {url}: {answer['errorText']}")
        if not self.loaded.wait(TIMEOUT):
            raise BrowserError(f"{url} did not finish loading in {TIMEOUT} s")

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if answer.get("exceptionDetails"):
            raise BrowserError(f"{expression!r} threw: {answer['exceptionDetails']}")
        return answer.get("result", {}).get("value")

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self.loaded.set()
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], writer: int, reader: int) -> None:
        self.process = process
        self._writer = writer
        self._reader = reader
        self._ids = iter(range(1, 1 << 30))
        self._answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, profile: Path, binary: str | None = None) -> Browser:
        binary = binary or chromium()
        if binary is None:
            raise BrowserError("no chromium on this machine")
        # The protocol's file descriptors are 3 (commands in) and 4 (answers out) in the browser; ours are
        # moved above 9 first, so that the child's dup2 never meets them at 3 or 4 already.
        to_browser = [_above_nine(fd) for fd in os.pipe()]
        from_browser = [_above_nine(fd) for fd in os.pipe()]

        def pipes() -> None:
            os.dup2(to_browser[0], 3)
            os.dup2(from_browser[1], 4)

        profile.mkdir(parents=True, exist_ok=True)
        log = open(profile / "chromium.log", "wb")  # noqa: SIM115 - kept open for the browser's life
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=pipes, close_fds=False,  # noqa: PLW1509
        )
        log.close()
        os.close(to_browser[0])
        os.close(from_browser[1])
        return cls(process, to_browser[1], from_browser[0])

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close", {}, timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._writer, self._reader):
            try:
                os.close(fd)
            except OSError:
                pass

    def send(self, method: str, params: dict[str, Any], session: str | None = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        number = next(self._ids)
        answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._answers[number] = answers
        message = {"id": number, "method": method, "params": params, **({"sessionId": session} if session else {})}
        with self._lock:
            os.write(self._writer, json.dumps(message).encode() + b"\0")
        try:
            answer = answers.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"no answer to {method} in {timeout} s") from None
        finally:
            self._answers.pop(number, None)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._reader, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message and message["id"] in self._answers:
                    self._answers[message["id"]].put(message)
                elif "method" in message and message.get("sessionId") in self._pages:
                    self._pages[message["sessionId"]].on_event(message["method"], message.get("params", {}))

    def new_page(self, *, offline: bool = True, javascript: bool = True) -> Page:
        """A fresh tab, recording its requests and errors; `offline` cuts it off any network."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self._pages[session] = page
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        if offline:
            page.send("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1, uploadThroughput=-1)
        if not javascript:
            page.send("Emulation.setScriptExecutionDisabled", value=True)
        return page

    def open(self, url: str, **options: Any) -> Page:
        page = self.new_page(**options)
        page.goto(url)
        page.evaluate("1")  # a round trip: events the page sent before it have arrived
        return page
