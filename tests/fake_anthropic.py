"""A local HTTP server that speaks the Anthropic Messages API, for tests.

Tests point the real ``anthropic`` SDK at it with ``base_url`` and script its answers, so model
calls travel over real HTTP and never reach the internet::

    with FakeAnthropic() as api:
        api.queue(Reply.text("Hello"), Reply.tool_use("read_file", {"path": "a.txt"}))
        client = anthropic.Anthropic(api_key="test-key", base_url=api.base_url)
        ...
        assert api.message_requests[0].api_key == "test-key"  # x-api-key or authorization: Bearer

Each ``POST /v1/messages`` consumes the next queued reply (retries too); an empty queue answers
500 with ``x-should-retry: false`` so a test that under-scripts fails at once. Replies come from
the ``Reply`` constructors: ``text``, ``tool_use``, ``message``, ``error``, ``stream_error``,
``malformed`` and ``stall``. A queued item may also be a callable that takes the
``RecordedRequest`` and returns a ``Reply``. Requests with ``"stream": true`` get server-sent
events; others get one JSON body. ``POST /v1/messages/count_tokens`` answers with
``estimate_tokens`` of the request and consumes nothing, unless ``queue_count_tokens`` scripted
its next answers (an error, a stall...).

``FakeAnthropic(concurrency_limit=5)`` answers a message request that arrives while five are being answered
with 429 and ``retry-after`` (counted in ``limited``; ``peak`` is the most it saw at once);
``delay_s`` answers every message that long after it arrived, as a model's latency.

Usage follows the API's prompt caching rules (tests/fake_prompt_cache.py): a prefix closed by a
``cache_control`` breakpoint is cached when it reaches the model's minimum length, read back by a later
request with the exact same prefix within its lifetime, and reported as ``cache_creation_input_tokens``
/ ``cache_read_input_tokens``; ``advance(seconds)`` moves the cache's clock.

It is also a proxy that lets nothing through: point a program's ``HTTPS_PROXY``/``HTTP_PROXY`` at
``base_url`` and every attempt to reach another host (a ``CONNECT`` tunnel, or a request for an
absolute URL elsewhere) is refused with 403 and listed in ``outside_requests``, so a test can assert
that a program such as the real ``claude`` CLI talked to nothing but this endpoint.
"""

from __future__ import annotations

import itertools
import json
import math
import socket
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from fake_prompt_cache import CacheError, PromptCache

__all__ = ["FakeAnthropic", "RecordedRequest", "Reply", "ToolCall", "estimate_tokens"]

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
DEFAULT_MODEL = "claude-fake"

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_ids = itertools.count(1)
_connection_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}_fake{next(_ids):016d}"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def estimate_tokens(body: Any) -> int:
    """Deterministic token estimate of a request: characters of the compact JSON of its
    ``system``, ``messages`` and ``tools`` divided by 4, rounded up (at least 1)."""
    if not isinstance(body, dict):
        return 1
    chars = sum(len(_compact(body[key])) for key in ("system", "messages", "tools") if key in body)
    return max(1, math.ceil(chars / 4))


def _split(text: str, pieces: int = 3) -> list[str]:
    """Cut text into about `pieces` consecutive chunks (none if it is empty)."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case keys
    raw: bytes
    body: Any  # parsed JSON, or None if the body is empty or not JSON
    connection: int = 0  # which TCP connection carried it (1, 2, ...), to check keep-alive
    elsewhere: str | None = None  # the host:port a proxy request was meant for, when not this server
    cache: dict[str, int] = field(default_factory=dict)  # the prompt cache's reads and writes for it

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def api_key(self) -> str | None:
        """The credential sent: ``x-api-key``, else the token of ``authorization: Bearer ...``."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None


@dataclass
class ToolCall:
    """A ``tool_use`` block for ``Reply.tool_use``; `id` defaults to a fresh ``toolu_...``."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


ToolCallLike = ToolCall | Sequence[Any] | dict[str, Any]
ReplyKind = Literal["message", "error", "stream_error", "malformed", "stall"]
Then = Literal["resume", "close", "reset"]


@dataclass
class Reply:
    """A scripted answer to one ``POST /v1/messages``. Build it with the class methods."""

    kind: ReplyKind
    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    message_id: str | None = None
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = "application/json"
    seconds: float = 0.0
    after_events: int | None = 0
    then: Then = "resume"
    inner: Reply | None = None
    ping: bool = True

    # ----- constructors -------------------------------------------------------------------

    @classmethod
    def message(
        cls,
        content: list[dict[str, Any]],
        *,
        stop_reason: str | None = "end_turn",
        usage: dict[str, int] | None = None,
        model: str | None = None,
        id: str | None = None,
        ping: bool = True,
    ) -> Reply:
        """An assistant message with arbitrary content blocks (text, tool_use, thinking...).

        `usage` overrides any of input_tokens (default: ``estimate_tokens`` of the request),
        output_tokens (default: output characters / 4, at least 1),
        cache_creation_input_tokens and cache_read_input_tokens (default 0).
        `model` defaults to the request's model. `ping` adds a ``ping`` event when streaming.
        """
        return cls(
            kind="message",
            content=[dict(block) for block in content],
            stop_reason=stop_reason,
            usage=dict(usage or {}),
            model=model,
            message_id=id,
            ping=ping,
        )

    @classmethod
    def text(
        cls,
        text: str,
        *,
        stop_reason: str = "end_turn",
        usage: dict[str, int] | None = None,
        model: str | None = None,
        id: str | None = None,
    ) -> Reply:
        """An assistant message with one text block, ending with `stop_reason` ("end_turn")."""
        return cls.message(
            [{"type": "text", "text": text}], stop_reason=stop_reason, usage=usage, model=model, id=id
        )

    @classmethod
    def tool_use(
        cls,
        *calls: ToolCallLike | str,
        input: dict[str, Any] | None = None,
        id: str | None = None,
        text: str | None = None,
        usage: dict[str, int] | None = None,
        model: str | None = None,
    ) -> Reply:
        """An assistant message asking for tools, with stop_reason "tool_use".

        One call: ``Reply.tool_use("read_file", {"path": "a"}, id="toolu_1")``.
        Several: ``Reply.tool_use(("read_file", {"path": "a"}), ToolCall("ls", {}), ...)`` where
        each call is a ``ToolCall``, a ``(name, input[, id])`` tuple or a ``{"name", "input",
        "id"}`` dict. `text` puts a text block before the tool_use blocks.
        """
        if calls and isinstance(calls[0], str):
            # Single-call form: name, then optionally the input positionally.
            if len(calls) > 2:
                raise TypeError("single-call form is tool_use(name, input, id=...)")
            name = calls[0]
            given = calls[1] if len(calls) == 2 else input
            parsed = [ToolCall(name, dict(given or {}), id)]  # type: ignore[arg-type]
        else:
            if input is not None or id is not None:
                raise TypeError("input=/id= only apply to the single-call form tool_use(name, ...)")
            parsed = [_tool_call(call) for call in calls]
        if not parsed:
            raise ValueError("tool_use needs at least one call")
        blocks: list[dict[str, Any]] = []
        if text is not None:
            blocks.append({"type": "text", "text": text})
        for call in parsed:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id or _next_id("toolu"),
                    "name": call.name,
                    "input": call.input,
                }
            )
        return cls.message(blocks, stop_reason="tool_use", usage=usage, model=model)

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        retry_after: float | None = None,
        retry_after_ms: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """An HTTP error with the API's body ``{"type": "error", "error": {"type", "message"}}``.

        `type` defaults from the status (429 rate_limit_error, 529 overloaded_error, 500 api_error,
        400 invalid_request_error, 401 authentication_error, 403 permission_error, ...).
        `retry_after` sets the ``retry-after`` header (seconds), `retry_after_ms` the
        ``retry-after-ms`` one; `headers` adds any other (e.g. ``{"x-should-retry": "false"}``).
        """
        error_type = type or ERROR_TYPES.get(status, "api_error")
        extra = dict(headers or {})
        if retry_after is not None:
            extra["retry-after"] = _number(retry_after)
        if retry_after_ms is not None:
            extra["retry-after-ms"] = _number(retry_after_ms)
        return cls(
            kind="error",
            status=status,
            error_type=error_type,
            error_message=message or f"fake {error_type} ({status})",
            headers=extra,
        )

    @classmethod
    def stream_error(
        cls,
        type: str = "overloaded_error",
        message: str | None = None,
        *,
        after_events: int = 1,
        reply: Reply | None = None,
        status: int = 529,
    ) -> Reply:
        """A failure in the middle of a stream: the first `after_events` events of `reply`
        (default a short text reply), then an ``error`` event with `type`/`message`.
        A non-streaming request gets ``Reply.error(status, message, type=type)`` instead."""
        return cls(
            kind="stream_error",
            status=status,
            error_type=type,
            error_message=message or f"fake {type} mid-stream",
            after_events=after_events,
            inner=reply or cls.text("This answer is cut short."),
        )

    @classmethod
    def malformed(
        cls, body: bytes | str, *, status: int = 200, content_type: str = "application/json"
    ) -> Reply:
        """Exactly `body` with `status` and `content_type` (for testing bad responses)."""
        raw = body.encode() if isinstance(body, str) else bytes(body)
        return cls(kind="malformed", body=raw, status=status, content_type=content_type)

    @classmethod
    def stall(
        cls,
        seconds: float,
        *,
        after_events: int | None = 1,
        reply: Reply | None = None,
        then: Then = "resume",
    ) -> Reply:
        """A slow or hung answer.

        Streaming: send the status line, headers and the first `after_events` events of `reply`
        (default a short text reply; ``ping`` counts as an event; ``None`` stalls before the
        headers), hold the connection open without sending for `seconds`, then either send the
        rest (``then="resume"``), drop the connection (``then="close"``: the client reads the end
        of the stream) or reset it (``then="reset"``: a TCP RST, the client's read fails).
        Non-streaming: sleep `seconds` before answering with `reply` (or dropping or resetting
        the connection). Stopping the server cuts a stall short.
        """
        return cls(
            kind="stall",
            seconds=seconds,
            after_events=after_events,
            then=then,
            inner=reply or cls.text("Sorry, that took a while."),
        )

    # ----- rendering ----------------------------------------------------------------------

    def render_message(self, request: RecordedRequest) -> dict[str, Any]:
        """The full Message object this reply stands for, given the request it answers."""
        cached = request.cache.get("cache_creation_input_tokens", 0) + request.cache.get("cache_read_input_tokens", 0)
        usage = {
            "input_tokens": max(0, estimate_tokens(request.body) - cached),
            "output_tokens": max(1, math.ceil(len(_compact(self.content)) / 4)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        usage.update(request.cache)
        usage.update(self.usage)
        return {
            "id": self.message_id or _next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": self.model or request.model or DEFAULT_MODEL,
            "content": [dict(block) for block in self.content],
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def render_events(self, request: RecordedRequest) -> list[tuple[str, dict[str, Any]]]:
        """The server-sent events, as (event type, data), that stream this reply."""
        message = self.render_message(request)
        usage = message["usage"]
        start = dict(message, content=[], stop_reason=None, stop_sequence=None)
        start["usage"] = dict(usage, output_tokens=min(1, usage["output_tokens"]))
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start})
        ]
        if self.ping:
            events.append(("ping", {"type": "ping"}))
        for index, block in enumerate(message["content"]):
            events.extend(_block_events(index, block))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _tool_call(call: ToolCallLike) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if isinstance(call, dict):
        return ToolCall(call["name"], dict(call.get("input") or {}), call.get("id"))
    parts = list(call)
    if not 1 <= len(parts) <= 3:
        raise TypeError(f"a tool call is (name, input[, id]), got {call!r}")
    return ToolCall(parts[0], dict(parts[1] if len(parts) > 1 else {}), parts[2] if len(parts) > 2 else None)


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        start = dict(block, text="")
        deltas = [{"type": "text_delta", "text": piece} for piece in _split(block["text"])]
    elif kind == "tool_use":
        start = dict(block, input={})
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in _split(_compact(block["input"]))]
    elif kind == "thinking":
        start = dict(block, thinking="", signature="")
        deltas = [
            {"type": "thinking_delta", "thinking": piece} for piece in _split(block.get("thinking", ""))
        ]
        if block.get("signature"):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = dict(block)
    events = [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


QueueItem = Reply | Callable[[RecordedRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAnthropic

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeouts, dropped streams) is routine here; anything else is a bug.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        if request in self.fake._resets:  # closed at once with SO_LINGER 0: a RST, no FIN before it
            self.fake._resets.discard(request)
            self.close_request(request)
            return
        super().shutdown_request(request)


class _DropConnection(Exception):
    """Raised inside a handler to close the socket without finishing the response (`reset`: with a RST)."""

    def __init__(self, reset: bool = False) -> None:
        super().__init__()
        self.reset = reset


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # an idle keep-alive connection ends after this long

    def setup(self) -> None:
        super().setup()
        self.connection_number = next(_connection_ids)
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_CONNECT(self) -> None:
        """A tunnel asked of this server as a proxy: recorded, refused."""
        request = RecordedRequest(
            method="CONNECT", path="", query={}, raw=b"", body=None, connection=self.connection_number,
            headers={key.lower(): value for key, value in self.headers.items()}, elsewhere=self.path,
        )
        self.server.fake._record(request)
        self._send_error(403, "permission_error", f"FakeAnthropic: no tunnel to {self.path}")

    # ----- dispatch -----------------------------------------------------------------------

    def _handle(self) -> None:
        fake = self.server.fake
        request = self._read_request()
        fake._record(request)
        try:
            if request.elsewhere is not None:
                self._send_error(403, "permission_error", f"FakeAnthropic: {request.elsewhere} is not reachable")
            elif request.method == "POST" and request.path == COUNT_TOKENS_PATH:
                scripted = fake._next_count(request)
                if scripted is not None:
                    self._answer(scripted, request)
                else:
                    self._send_json(200, {"input_tokens": estimate_tokens(request.body)})
            elif request.method == "POST" and request.path == MESSAGES_PATH:
                if not fake._enter():
                    try:
                        self._send_error(429, "rate_limit_error", "FakeAnthropic: over the concurrency limit",
                                         {"retry-after": _number(fake.limited_retry_after)})
                    finally:
                        fake._leave()
                    return
                try:
                    try:
                        request.cache = fake.cache.usage(request.body, estimate_tokens(request.body))
                    except CacheError as exc:
                        self._send_error(400, "invalid_request_error", str(exc))
                        return
                    if fake.delay_s:
                        fake._wait(fake.delay_s)
                    self._answer(fake._next_reply(request), request)
                finally:
                    fake._leave()
            else:
                self._send_error(
                    404, "not_found_error", f"FakeAnthropic: no route for {request.method} {request.path}"
                )
        except _DropConnection as drop:
            self.close_connection = True
            try:
                if drop.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    fake._resets.add(self.connection)
                else:
                    self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            # The client gave up (e.g. its read timeout fired during a stall).
            self.close_connection = True

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(self.path)
        ours = {f"127.0.0.1:{self.server.server_address[1]}", f"localhost:{self.server.server_address[1]}"}
        return RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={key.lower(): value for key, value in self.headers.items()},
            raw=raw,
            body=body,
            connection=self.connection_number,
            elsewhere=parts.netloc if parts.netloc and parts.netloc not in ours else None,
        )

    def _answer(self, reply: Reply | None, request: RecordedRequest) -> None:
        if reply is None:
            number = len(self.server.fake.message_requests)
            message = f"FakeAnthropic: the script ran out of replies (POST /v1/messages #{number})"
            self._send_error(500, "api_error", message, {"x-should-retry": "false"})
            return
        kind = reply.kind
        if kind == "message":
            if request.stream:
                self._send_events(reply.render_events(request))
            else:
                self._send_json(200, reply.render_message(request))
        elif kind == "error":
            self._send_error(reply.status, reply.error_type, reply.error_message, reply.headers)
        elif kind == "malformed":
            self._send_bytes(reply.status, reply.body, reply.content_type)
        elif kind == "stream_error":
            assert reply.inner is not None
            if not request.stream:
                self._send_error(reply.status, reply.error_type, reply.error_message)
                return
            events = reply.inner.render_events(request)[: reply.after_events]
            error = {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}
            self._send_events(events + [("error", error)])
        elif kind == "stall":
            assert reply.inner is not None
            if request.stream and reply.after_events is not None:
                events = reply.inner.render_events(request)
                self._send_events(
                    events, pause_after=reply.after_events, pause=reply.seconds, then=reply.then
                )
            else:
                self.server.fake._wait(reply.seconds)
                if reply.then != "resume":
                    raise _DropConnection(reset=reply.then == "reset")
                self._answer(reply.inner, request)
        else:  # pragma: no cover - constructors only make the kinds above
            raise ValueError(f"unknown reply kind {kind!r}")

    # ----- writing ------------------------------------------------------------------------

    def _common_headers(self, content_type: str) -> None:
        self.send_header("content-type", content_type)
        self.send_header("request-id", _next_id("req"))
        self.send_header("anthropic-organization-id", "00000000-0000-0000-0000-000000000000")

    def _send_bytes(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self._common_headers(content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(data).encode(), "application/json", headers)

    def _send_error(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = {"type": "error", "error": {"type": error_type, "message": message}}
        self._send_json(status, body, headers)

    def _send_events(
        self,
        events: list[tuple[str, dict[str, Any]]],
        *,
        pause_after: int | None = None,
        pause: float = 0.0,
        then: str = "resume",
    ) -> None:
        """Stream events as chunked text/event-stream; optionally go silent after `pause_after`."""
        self.send_response(200)
        self._common_headers("text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for sent in range(len(events) + 1):
            if sent == pause_after:
                self.server.fake._wait(pause)
                if then != "resume":
                    raise _DropConnection(reset=then == "reset")
            if sent < len(events):
                name, data = events[sent]
                self._write_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class FakeAnthropic:
    """A threaded Messages API server on 127.0.0.1 with an ephemeral port.

    Use ``with FakeAnthropic() as api:`` or ``start()``/``stop()``. ``base_url`` is what the SDK
    takes; ``queue(*replies)`` scripts ``POST /v1/messages``; ``requests`` records everything,
    ``message_requests`` / ``count_tokens_requests`` the two API routes; ``pending`` is how many
    queued replies are still unused.
    """

    def __init__(self, *replies: QueueItem, concurrency_limit: int | None = None, delay_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        # Like an account's limit on requests at once: a message request beyond it is answered 429 with
        # `retry-after: limited_retry_after` (and counted in `limited`); `peak` is the most seen at once.
        self.concurrency_limit = concurrency_limit
        self.limited_retry_after = 1.0
        self.limited = 0
        self.peak = 0
        self._in_flight = 0
        self.delay_s = delay_s  # every message is answered this long after it arrived (model latency)
        self._replies: deque[QueueItem] = deque(replies)
        self._counts: deque[QueueItem] = deque()  # scripted answers to count_tokens, before the estimate
        self._resets: set[socket.socket] = set()  # connections to end with a RST
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.cache = PromptCache()

    # ----- lifecycle ----------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeAnthropic:
        """Listen on `port` (0: an ephemeral one; the port of a stopped server: back where it was)."""
        if self._server is not None:
            raise RuntimeError("FakeAnthropic is already running")
        self._stopping.clear()
        server = _Server(("127.0.0.1", port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # ends stalls early
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake handlers blocked on idle keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ----- scripting and records ----------------------------------------------------------

    def queue(self, *replies: QueueItem) -> FakeAnthropic:
        """Append replies; each POST /v1/messages consumes one, in order."""
        with self._lock:
            self._replies.extend(replies)
        return self

    def queue_count_tokens(self, *replies: QueueItem) -> FakeAnthropic:
        """Append answers for POST /v1/messages/count_tokens (an error, a stall...), each consumed by one
        request; once they are used up, the count is the estimate again."""
        with self._lock:
            self._counts.extend(replies)
        return self

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == MESSAGES_PATH and r.elsewhere is None]

    @property
    def count_tokens_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == COUNT_TOKENS_PATH and r.elsewhere is None]

    @property
    def outside_requests(self) -> list[RecordedRequest]:
        """Requests, through this server as a proxy, for any other host (all refused)."""
        return [r for r in self.requests if r.elsewhere is not None]

    def clear(self) -> None:
        """Forget recorded requests, queued replies and the prompt cache."""
        with self._lock:
            self._requests.clear()
            self._replies.clear()
            self._counts.clear()
        self.cache.clear()

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass for the prompt cache (entries expire 5 minutes, or an hour, after last use)."""
        self.cache.advance(seconds)

    # ----- used by the handler ------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self, request: RecordedRequest) -> Reply | None:
        return self._next(self._replies, request)

    def _next_count(self, request: RecordedRequest) -> Reply | None:
        return self._next(self._counts, request)

    def _next(self, queue: deque[QueueItem], request: RecordedRequest) -> Reply | None:
        with self._lock:
            item = queue.popleft() if queue else None
        if item is None or isinstance(item, Reply):
            return item
        return item(request)

    def _enter(self) -> bool:
        """A message request arrives: False when it is over the concurrency limit."""
        with self._lock:
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            over = self.concurrency_limit is not None and self._in_flight > self.concurrency_limit
            if over:
                self.limited += 1
            return not over

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(max(0.0, seconds))
