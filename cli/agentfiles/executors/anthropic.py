"""The model executor: the Anthropic Messages API through the `anthropic` SDK (the only module that
imports it). Streams every answer, treats `stall_s` without a streamed event as a hang, retries 429,
529, 5xx and connection errors with exponential backoff and jitter (honouring `retry-after`, for every
call to the model at once through the run's governor, executors/governor.py), fails at once on
400/401/403/404, and translates every SDK error into the step's failure."""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
from typing import Any

import anthropic

from agentfiles.core.conversation import CallFailed, Limits, converse, turn_files
from agentfiles.core.models import ApiSettings
from agentfiles.errors import PreconditionError
from agentfiles.executors.base import Runtime, StepRequest, StepResult, api_retries, api_waits
from agentfiles.executors.endpoint import api_endpoint
from agentfiles.executors.governor import Governor, Interrupted, RateLimits
from agentfiles.executors.shell import doer_tools

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 120.0
_HINTS = {
    400: "the API refused the request; check the model id in .agents/config.yaml and the request in the run record",
    401: "the API key was refused: set ANTHROPIC_API_KEY to a valid key",
    403: "the key may not use this model or endpoint: check its permissions",
    404: "unknown model or endpoint: check `model` in .agents/config.yaml and `api.base_url`",
    413: "the request is too large: lower the step's inputs or use `view: outline`",
}


def make_client(settings: ApiSettings, environ: dict[str, str]) -> Any:
    """An SDK client for the configured provider; SDK retries are off (this module retries itself)."""
    timeout = _timeout(settings)
    if settings.provider == "bedrock":
        try:
            return anthropic.AnthropicBedrock(max_retries=0, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - missing extras or credentials
            raise PreconditionError(f"cannot use Bedrock: {exc}", hint="pip install 'anthropic[bedrock]' and configure AWS credentials") from None
    if settings.provider == "vertex":
        try:
            return anthropic.AnthropicVertex(max_retries=0, timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            raise PreconditionError(f"cannot use Vertex AI: {exc}", hint="pip install 'anthropic[vertex]' and configure Google credentials") from None
    base_url, key, token = api_endpoint(settings, environ)
    return anthropic.Anthropic(api_key=key, auth_token=token, base_url=base_url, max_retries=0, timeout=timeout)


def _timeout(settings: ApiSettings) -> Any:
    factory = getattr(anthropic, "Timeout", None)
    if factory is None:
        return settings.stall_s
    # A read that waits longer than stall_s for the next byte of the stream is a stalled stream.
    return factory(settings.timeout_s, connect=min(30.0, settings.timeout_s), read=settings.stall_s)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


# An error event in the middle of a stream arrives on an HTTP 200 response; its type says what it
# would have been as a status.
STREAM_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def _error_type(exc: Exception) -> str | None:
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    if status == 200:  # an error event mid-stream
        return STREAM_ERROR_STATUS.get(_error_type(exc) or "", 500)
    return status


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    message = ""
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message", "") if isinstance(error, dict) else str(body)
    message = message or str(exc)
    if status == 200:
        return f"{_error_type(exc) or 'error'} event mid-stream: {message}"
    return f"HTTP {status}: {message}" if status else f"{type(exc).__name__}: {message}"


def accumulate(events: Any) -> dict[str, Any]:
    """The final message, as the API's JSON, from a stream of raw events."""
    message: dict[str, Any] = {}
    buffers: dict[int, str] = {}
    for event in events:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = event.message.model_dump(mode="json", exclude_none=True)
            message["content"] = []
        elif kind == "content_block_start":
            block = event.content_block.model_dump(mode="json", exclude_none=True)
            if block.get("type") == "tool_use":
                block["input"] = {}
                buffers[event.index] = ""
            message.setdefault("content", []).append(block)
        elif kind == "content_block_delta":
            delta = event.delta
            block = message["content"][event.index]
            if delta.type == "text_delta":
                block["text"] = block.get("text", "") + delta.text
            elif delta.type == "input_json_delta":
                buffers[event.index] = buffers.get(event.index, "") + delta.partial_json
            elif delta.type == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.thinking
            elif delta.type == "signature_delta":
                block["signature"] = delta.signature
        elif kind == "content_block_stop":
            if event.index in buffers:
                raw = buffers.pop(event.index)
                message["content"][event.index]["input"] = json.loads(raw) if raw.strip() else {}
        elif kind == "message_delta":
            message["stop_reason"] = event.delta.stop_reason
            if getattr(event.delta, "stop_sequence", None) is not None:
                message["stop_sequence"] = event.delta.stop_sequence
            usage = event.usage.model_dump(mode="json", exclude_none=True) if event.usage else {}
            message.setdefault("usage", {}).update({k: v for k, v in usage.items() if v is not None})
    if not message or "stop_reason" not in message:
        raise ValueError("the stream ended before the message was complete")
    return message


class AnthropicExecutor:
    name = "agent"

    def __init__(self, settings: ApiSettings, environ: dict[str, str] | None = None, client: Any = None) -> None:
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self._client: Any = client  # made from the settings on first use, unless given (a cluster worker's own)
        self.governor = Governor(RateLimits(settings))  # shared by every conversation of the run (one executor)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.settings, self.environ)
        return self._client

    def count_tokens(self, body: dict[str, Any], cancel: Any = None) -> int:
        """Input tokens of a request, counted by the API (`budget.precise: true`), retried as a call to
        the model is; raises CallFailed."""
        fields = {k: body[k] for k in ("model", "system", "messages", "tools") if k in body}
        counted, _ = self._retrying(lambda: self.client.messages.count_tokens(**fields), cancel)
        return int(counted.input_tokens)

    def call(self, body: dict[str, Any], cancel: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One answer, streamed, with retries, each try when the run's governor lets it go; raises
        CallFailed. A 429 or 529 pauses every call to the model for the wait it asks (retry-after)."""
        model = str(body.get("model"))
        estimate = estimate_tokens(body)

        def send() -> dict[str, Any]:
            with self.governor.call(model, estimate, cancel, api_waits.get()) as slot:
                stream = self.client.messages.create(**{**body, "stream": True})
                with stream:
                    message = accumulate(stream)
                slot["used"] = used_tokens(message)
            return message

        return self._retrying(send, cancel, model)

    def _retrying(self, send: Any, cancel: Any, model: str | None = None) -> tuple[Any, list[dict[str, Any]]]:
        """`send()`'s answer and the failed tries before it: 429, 529, 5xx, connection errors, stalls and
        broken answers are tried again up to `api.retries` times, after a backoff (what a 429 or 529 asks
        holds back every call to `model`); raises CallFailed with every try."""
        attempts: list[dict[str, Any]] = []
        retries = self.settings.retries
        for attempt in range(retries + 1):
            if cancel is not None and cancel.is_set():
                raise CallFailed("interrupted", "the run was interrupted", attempts)
            started = time.monotonic()
            try:
                return send(), attempts
            except Interrupted:
                raise CallFailed("interrupted", "the run was interrupted", attempts) from None
            except anthropic.APIStatusError as exc:
                status = _status(exc)
                error = {"attempt": attempt + 1, "error": _describe(exc), "status": status}
                after = _retry_after(exc)
                if after is not None:
                    error["retry_after"] = after
                attempts.append(error)
                if status not in RETRYABLE_STATUS:
                    raise CallFailed("api", f"{_describe(exc)} ({_HINTS.get(status, 'see the run record')})", attempts) from None
                kind = "api"
            except (anthropic.APITimeoutError, TimeoutError) as exc:
                attempts.append({"attempt": attempt + 1, "error": f"no streamed event for {self.settings.stall_s:g} s ({type(exc).__name__})"})
                kind = "hang"
            except anthropic.APIConnectionError as exc:
                attempts.append({"attempt": attempt + 1, "error": f"{_describe(exc)} ({self.client.base_url})"})
                kind = "api"
            except Exception as exc:  # noqa: BLE001 - a broken stream or body: the transport's own errors
                name = type(exc).__name__
                kind = "hang" if "Timeout" in name else "api"
                detail = f"no streamed event for {self.settings.stall_s:g} s" if kind == "hang" else f"{name}: {exc}"
                attempts.append({"attempt": attempt + 1, "error": detail})
            attempts[-1]["seconds"] = round(time.monotonic() - started, 3)
            if attempt == retries:
                break
            wait = self._backoff(attempt, attempts[-1])
            attempts[-1]["retry_in_s"] = round(wait, 3)
            notify = api_retries.get()
            if notify is not None:
                notify(attempt + 2, retries + 1, f"{attempts[-1]['error']}; trying again in {wait:.1f} s")
            if model is not None and attempts[-1].get("status") in (429, 529):
                self.governor.pause(model, wait)  # every call to the model waits, this one's next try too
            else:
                time.sleep(wait)
        last = attempts[-1]["error"] if attempts else "no answer"
        raise CallFailed(kind, f"gave up after {len(attempts)} attempts; last: {last}", attempts)

    def _backoff(self, attempt: int, error: dict[str, Any]) -> float:
        base = self.settings.backoff_s
        wait = min(BACKOFF_CAP_S, base * (2**attempt)) * random.uniform(0.5, 1.0)
        after = error.get("retry_after")
        if after is not None:
            wait = max(wait, min(float(after), RETRY_AFTER_CAP_S))
        return wait

    def execute(self, request: StepRequest, runtime: Runtime) -> StepResult:
        assert request.context is not None and request.first_request is not None
        started = time.monotonic()
        deadline = started + request.timeout if request.timeout else None

        limits = Limits(
            max_turns=request.max_turns,
            usd=request.budget.usd if request.budget else None,
            context_tokens=request.budget.context_tokens if request.budget else None,
            deadline=deadline,
        )
        tools = doer_tools(request, runtime, limits)
        outcome = self.converse(request.first_request, tools, limits, request.price, runtime.cancel)
        result = result_of(outcome, time.monotonic() - started, request.model)
        result.record["tool_calls"] = dict(tools.calls)
        return result

    def converse(self, body: dict[str, Any], tools: Any, limits: Limits, price: Any, cancel: Any = None) -> Any:
        """Any conversation (a doer's, a verifier's, a discussion turn) against the API."""
        return converse(body, lambda b: self.call(b, cancel), tools, limits, price)


def estimate_tokens(body: dict[str, Any]) -> int:
    """About how many tokens a request holds (a character in four), before the API has counted them."""
    return max(1, len(json.dumps({k: body.get(k) for k in ("system", "messages", "tools")}, default=str)) // 4)


def used_tokens(message: dict[str, Any]) -> int:
    """The tokens an answered call counts against a tokens-a-minute limit: input written and read anew, output."""
    usage = message.get("usage") or {}
    return sum(int(usage.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens", "output_tokens"))


def result_of(outcome: Any, seconds: float, model: str | None) -> StepResult:
    """A StepResult from a conversation's outcome, with its exchanges as run-record files."""
    files = turn_files(outcome)
    retries = [a for turn in outcome.turns for a in turn.attempts]
    result = StepResult(
        ok=outcome.ok,
        failure_kind=outcome.failure_kind,
        failure_detail=outcome.failure_detail,
        duration_s=round(seconds, 3),
        summary=outcome.summary or ("The model did not finish." if not outcome.ok else ""),
        sections=outcome.sections,
        usage=outcome.usage,
        model=model,
        record={"model": model, "turns": len(outcome.turns), "tools": outcome.tool_log, "retries": retries},
        files=files,
    )
    return result
