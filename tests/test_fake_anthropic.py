"""The fake Messages API server, driven over real HTTP by the real `anthropic` SDK."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types import MessageParam, ToolParam
from fake_anthropic import FakeAnthropic, Reply, ToolCall, estimate_tokens

try:  # the SDK's HTTP stack: a fork of httpx in recent versions
    import httpx2 as httpx_stack
except ImportError:  # pragma: no cover
    import httpx as httpx_stack  # type: ignore[no-redef]

MODEL = "claude-test-model"
USER: list[MessageParam] = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


MakeClient = Callable[..., anthropic.Anthropic]


@pytest.fixture
def client(api: FakeAnthropic) -> Iterator[MakeClient]:
    """Makes real SDK clients pointed at the fake (no retries unless asked); closes them after."""
    made: list[anthropic.Anthropic] = []

    def make(**options: Any) -> anthropic.Anthropic:
        options.setdefault("max_retries", 0)
        made.append(anthropic.Anthropic(api_key="test-key", base_url=api.base_url, **options))
        return made[-1]

    yield make
    for c in made:
        c.close()


def final_streamed(c: anthropic.Anthropic) -> Any:
    """The final message of a `messages.stream(...)` call."""
    with c.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        return stream.get_final_message()


def test_non_streaming_text(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.text("Hello from the fake."))
    message = client().messages.create(model=MODEL, max_tokens=64, system="Be brief.", messages=USER)

    assert message.role == "assistant"
    (block,) = message.content
    assert block.type == "text" and block.text == "Hello from the fake."
    assert message.stop_reason == "end_turn"
    assert message.model == MODEL
    assert message.id.startswith("msg_")

    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert api.message_requests == [request]
    assert request.body["messages"] == USER and request.body["system"] == "Be brief."
    assert not request.stream
    # Recorded, so later tests can check where the key goes. This SDK sends it as
    # `authorization: Bearer ...`; older ones used `x-api-key`.
    assert request.api_key == "test-key"
    assert any("test-key" in value for value in request.headers.values())
    assert "anthropic-version" in request.headers
    assert request.raw.startswith(b"{")
    assert message.usage.input_tokens == estimate_tokens(request.body)
    assert api.pending == 0


def test_streaming_text(api: FakeAnthropic, client: MakeClient) -> None:
    text = "Streaming works, one delta at a time."
    api.queue(Reply.text(text, usage={"input_tokens": 12, "output_tokens": 9}))
    with client().messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        deltas = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(deltas) > 1 and "".join(deltas) == text
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 9)
    assert api.message_requests[0].stream


def test_raw_stream_event_sequence(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.text("abc def ghi"))
    stream = client().messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True)
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    types = [event.type for event in stream]  # the SDK drops `ping`
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-4:] == ["content_block_delta", "content_block_stop", "message_delta", "message_stop"]


def test_tool_use_non_streaming(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(
        Reply.tool_use(
            ("read_file", {"path": "docs/a.md"}, "toolu_given"),
            ToolCall("list_dir", {"path": ".", "depth": 2}),
            text="Let me look.",
        )
    )
    message = client().messages.create(model=MODEL, max_tokens=64, messages=USER)

    assert message.stop_reason == "tool_use"
    text, first, second = message.content
    assert text.type == "text" and text.text == "Let me look."
    assert first.type == "tool_use" and (first.id, first.name, first.input) == (
        "toolu_given",
        "read_file",
        {"path": "docs/a.md"},
    )
    assert (
        second.type == "tool_use" and second.name == "list_dir" and second.input == {"path": ".", "depth": 2}
    )
    assert second.id.startswith("toolu_") and second.id != first.id


def test_tool_use_streaming(api: FakeAnthropic, client: MakeClient) -> None:
    tool_input = {"path": "src/main.py", "lines": [1, 2, 3], "note": "ünïcode"}
    api.queue(Reply.tool_use("read_file", tool_input))
    with client().messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()

    assert kinds.count("input_json") > 1  # the arguments arrived in several partial_json chunks
    assert final.stop_reason == "tool_use"
    (block,) = final.content
    assert block.type == "tool_use" and block.name == "read_file" and block.input == tool_input
    assert block.id.startswith("toolu_")


@pytest.mark.parametrize("streaming", [False, True])
def test_usage_with_cache_tokens_and_model_override(
    api: FakeAnthropic, client: MakeClient, streaming: bool
) -> None:
    usage = {
        "input_tokens": 100,
        "output_tokens": 42,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 3000,
    }
    api.queue(Reply.text("cached", usage=usage, model="claude-other"))
    c = client()
    if streaming:
        message = final_streamed(c)
    else:
        message = c.messages.create(model=MODEL, max_tokens=64, messages=USER)

    assert message.model == "claude-other"
    got = message.usage
    assert (got.input_tokens, got.output_tokens) == (100, 42)
    assert (got.cache_creation_input_tokens, got.cache_read_input_tokens) == (2000, 3000)


def test_overloaded_then_success_is_retried(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.error(529), Reply.text("second time lucky"))
    message = client(max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=USER)

    assert message.content[0].text == "second time lucky"  # type: ignore[union-attr]
    first, second = api.message_requests
    assert (first.headers["x-stainless-retry-count"], second.headers["x-stainless-retry-count"]) == ("0", "1")
    assert first.body == second.body


def test_error_body_shape_and_request_id(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.error(529, "Overloaded"))
    with pytest.raises(anthropic.OverloadedError) as caught:
        client().messages.create(model=MODEL, max_tokens=64, messages=USER)
    err = caught.value
    assert err.status_code == 529
    assert err.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert err.request_id and err.request_id.startswith("req_")


def test_retry_after_is_honoured(api: FakeAnthropic, client: MakeClient) -> None:
    # The SDK's own backoff before the first retry is at most 0.5 s, so waiting >= 1 s means
    # it followed the header.
    api.queue(Reply.error(429, "slow down", retry_after=1), Reply.text("ok"))
    started = time.monotonic()
    message = client(max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=USER)
    elapsed = time.monotonic() - started

    assert message.content[0].text == "ok"  # type: ignore[union-attr]
    assert 0.95 <= elapsed < 3
    assert len(api.message_requests) == 2


def test_retry_after_ms_is_honoured(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.error(529, retry_after_ms=20), Reply.error(529, retry_after_ms=20), Reply.text("ok"))
    started = time.monotonic()
    client(max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert time.monotonic() - started < 0.9  # the default backoff would take over 1.1 s
    assert len(api.message_requests) == 3


def test_authentication_error_is_not_retried(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.error(401, "invalid x-api-key"), Reply.text("never sent"))
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=USER)

    assert caught.value.status_code == 401
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert len(api.message_requests) == 1
    assert api.pending == 1


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (500, anthropic.InternalServerError, "api_error"),
    ],
)
def test_error_statuses_map_to_sdk_errors(
    api: FakeAnthropic,
    client: MakeClient,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    api.queue(Reply.error(status))
    with pytest.raises(error_class) as caught:
        client().messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert caught.value.body["error"]["type"] == error_type  # type: ignore[index]


def test_malformed_error_body_raises_sdk_error(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.malformed(b"<html>502 upstream garbage", status=502, content_type="text/html"))
    with pytest.raises(anthropic.InternalServerError) as caught:
        client().messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert caught.value.status_code == 502
    assert "upstream garbage" in str(caught.value)


def test_malformed_success_bodies(api: FakeAnthropic, client: MakeClient) -> None:
    # The SDK does not wrap these: invalid JSON surfaces as a ValueError (json.JSONDecodeError),
    # in a JSON response and in a server-sent event alike.
    api.queue(
        Reply.malformed(b'{"id": "msg_1", "content": [', status=200),
        Reply.malformed(b"event: message_start\ndata: {not json\n\n", content_type="text/event-stream"),
    )
    c = client()
    with pytest.raises(ValueError):
        c.messages.create(model=MODEL, max_tokens=64, messages=USER)
    with pytest.raises(ValueError):
        final_streamed(c)


def test_stall_mid_stream_hits_read_timeout(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.stall(10, after_events=3))
    started = time.monotonic()
    # The headers already arrived, so the timeout surfaces from the HTTP stack while iterating.
    with pytest.raises((anthropic.APITimeoutError, httpx_stack.TimeoutException)):
        final_streamed(client(timeout=1.0))
    assert time.monotonic() - started < 4
    assert len(api.message_requests) == 1


def test_stall_before_headers_hits_sdk_timeout(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.stall(10, after_events=None))
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        final_streamed(client(timeout=0.5))
    assert time.monotonic() - started < 3


def test_short_stall_resumes_and_completes(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.stall(0.3, after_events=2, reply=Reply.text("slow but sure")))
    with client(timeout=2.0).messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        assert stream.get_final_text() == "slow but sure"


def test_stall_then_close_drops_the_stream(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.stall(0.1, after_events=3, then="close"))
    with pytest.raises((anthropic.APIConnectionError, httpx_stack.TransportError)):
        final_streamed(client())


def test_error_event_mid_stream(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.stream_error("overloaded_error", "Overloaded", after_events=3))
    with pytest.raises(anthropic.APIStatusError) as caught:
        final_streamed(client())
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_non_streaming_stall_times_out(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.stall(10))
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client(timeout=0.5).messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert time.monotonic() - started < 3


def test_count_tokens(api: FakeAnthropic, client: MakeClient) -> None:
    tools: list[ToolParam] = [
        {"name": "read_file", "description": "Read a file", "input_schema": {"type": "object"}}
    ]
    counted = client().messages.count_tokens(model=MODEL, system="Be brief.", messages=USER, tools=tools)

    (request,) = api.count_tokens_requests
    assert counted.input_tokens == estimate_tokens(request.body) > 1
    assert api.message_requests == []
    assert request.api_key == "test-key"


def test_running_out_of_script_fails_loudly_without_retries(api: FakeAnthropic, client: MakeClient) -> None:
    with pytest.raises(anthropic.InternalServerError, match="ran out"):
        client(max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert len(api.message_requests) == 1


def test_callable_reply_sees_the_request(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(lambda request: Reply.text(f"you said {request.body['messages'][-1]['content']!r}"))
    message = client().messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert message.content[0].text == "you said 'Say hello.'"  # type: ignore[union-attr]


def test_start_stop_and_keep_alive() -> None:
    api = FakeAnthropic(Reply.text("one"), Reply.text("two"), Reply.text("three")).start()
    try:
        with anthropic.Anthropic(api_key="test-key", base_url=api.base_url, max_retries=0) as c:
            c.messages.create(model=MODEL, max_tokens=64, messages=USER)
            final_streamed(c)
            message = c.messages.create(model=MODEL, max_tokens=64, messages=USER)
            assert message.content[0].text == "three"  # type: ignore[union-attr]
        base_url = api.base_url
    finally:
        started = time.monotonic()
        api.stop()
        assert time.monotonic() - started < 2
    # JSON and chunked event-stream answers both leave the connection reusable.
    assert len({request.connection for request in api.requests}) == 1
    with (
        anthropic.Anthropic(api_key="test-key", base_url=base_url, max_retries=0) as c,
        pytest.raises(anthropic.APIConnectionError),
    ):
        c.messages.create(model=MODEL, max_tokens=64, messages=USER)


def test_as_a_proxy_it_lets_nothing_through_and_lists_every_attempt(api: FakeAnthropic) -> None:
    import http.client

    tunnel = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    tunnel.set_tunnel("api.anthropic.com", 443)
    with pytest.raises(OSError, match="403"):
        tunnel.request("GET", "/")
    tunnel.close()
    plain = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    plain.request("POST", "http://example.invalid/v1/messages", body=b"{}", headers={"content-type": "application/json"})
    refused = plain.getresponse()
    assert refused.status == 403 and b"not reachable" in refused.read()
    plain.request("POST", f"http://127.0.0.1:{api.port}/v1/messages/count_tokens", body=b"{}")
    answered = plain.getresponse()
    assert answered.status == 200 and answered.read()  # a request for this server itself, through it as a proxy
    plain.close()
    assert [(r.method, r.elsewhere) for r in api.outside_requests] == [
        ("CONNECT", "api.anthropic.com:443"), ("POST", "example.invalid")]
    assert api.message_requests == [] and len(api.count_tokens_requests) == 1


# ----- prompt caching ---------------------------------------------------------------------------

LONG = "The convention's text. " * 400  # about 2,300 tokens by the server's estimate


def cached_call(c: anthropic.Anthropic, system: list[dict[str, Any]], question: str, model: str = MODEL) -> Any:
    return c.messages.create(model=model, max_tokens=10, system=system,  # type: ignore[arg-type]
                             messages=[{"role": "user", "content": question}])


def test_a_prefix_is_written_then_read(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.text("a"), Reply.text("b"), Reply.text("c"))
    c = client()
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    first = cached_call(c, system, "One?").usage
    assert first.cache_read_input_tokens == 0 and first.cache_creation_input_tokens > 1024
    second = cached_call(c, system, "Two?").usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    total = estimate_tokens(api.message_requests[1].body)
    assert second.input_tokens == total - second.cache_read_input_tokens
    changed = [{"type": "text", "text": LONG + "!", "cache_control": {"type": "ephemeral"}}]
    assert cached_call(c, changed, "Two?").usage.cache_read_input_tokens == 0  # exact prefix only


def test_below_the_models_minimum_nothing_is_cached(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(*(Reply.text("x") for _ in range(4)))
    c = client()
    short = [{"type": "text", "text": "Short. " * 300, "cache_control": {"type": "ephemeral"}}]  # ~530 tokens
    for _ in range(2):
        usage = cached_call(c, short, "Q").usage
        assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
    # 2,300 tokens is enough for a Sonnet model, not for Haiku 4.5 (4,096)
    long = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    assert cached_call(c, long, "Q", model="claude-haiku-4-5").usage.cache_creation_input_tokens == 0
    assert cached_call(c, long, "Q", model="claude-sonnet-4-6").usage.cache_creation_input_tokens > 0


def test_entries_expire_five_minutes_after_their_last_use(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(*(Reply.text("x") for _ in range(4)))
    c = client()
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    cached_call(c, system, "1")
    api.advance(240)
    assert cached_call(c, system, "2").usage.cache_read_input_tokens > 0  # and refreshed
    api.advance(240)
    assert cached_call(c, system, "3").usage.cache_read_input_tokens > 0
    api.advance(301)
    usage = cached_call(c, system, "4").usage
    assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens > 0


def test_lookback_finds_an_earlier_breakpoint_and_four_is_the_limit(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue(Reply.text("x"), Reply.text("y"))
    c = client()
    shared = {"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}
    cached_call(c, [shared], "1")
    later = [dict(shared, cache_control=None), {"type": "text", "text": "More. " * 50, "cache_control": {"type": "ephemeral"}}]
    later[0].pop("cache_control")
    usage = cached_call(c, later, "2").usage
    assert usage.cache_read_input_tokens > 1024 and usage.cache_creation_input_tokens > 0
    five = [{"type": "text", "text": f"{i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks with cache_control"):
        cached_call(c, five, "3")


def test_stall_then_reset_fails_the_read(api: FakeAnthropic, client: MakeClient) -> None:
    """`then="reset"` ends the connection with a RST: the read fails as a reset, not as the end of a stream."""
    api.queue(Reply.stall(0.05, after_events=3, then="reset"))
    with pytest.raises((anthropic.APIConnectionError, httpx_stack.TransportError)) as caught:
        final_streamed(client())
    error: BaseException | None = caught.value
    while error is not None and not isinstance(error, ConnectionResetError):
        error = error.__cause__ or error.__context__
    assert isinstance(error, ConnectionResetError), repr(caught.value)


def test_a_stopped_server_starts_again_on_its_port(api: FakeAnthropic, client: MakeClient) -> None:
    port, sdk = api.port, client()
    api.stop()
    with pytest.raises(anthropic.APIConnectionError):
        sdk.messages.create(model=MODEL, max_tokens=64, messages=USER)
    api.start(port)
    api.queue(Reply.text("back"))
    assert sdk.messages.create(model=MODEL, max_tokens=64, messages=USER).content[0].text == "back"  # type: ignore[union-attr]


def test_count_tokens_answers_as_scripted_then_counts(api: FakeAnthropic, client: MakeClient) -> None:
    api.queue_count_tokens(Reply.error(529, "busy"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        client().messages.count_tokens(model=MODEL, messages=USER)
    assert caught.value.status_code == 529
    counted = client().messages.count_tokens(model=MODEL, messages=USER)
    assert counted.input_tokens == estimate_tokens(api.count_tokens_requests[-1].body)
    assert api.message_requests == []
