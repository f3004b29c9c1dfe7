"""The model executor before its SDK is loaded: `import anthropic` costs seconds, so a run that will need
it starts the import in the background as soon as it knows (overlapping planning, sandboxes and the
command steps before the first model step) and checks the settings without it, so a missing key or a
malformed base URL still stops the run before any step. The executor itself is built on first use."""

from __future__ import annotations

import threading
from typing import Any

from agentfiles.core.models import ApiSettings
from agentfiles.executors.endpoint import api_endpoint


class LazyAnthropicExecutor:
    """Stands for executors.anthropic.AnthropicExecutor until a step first needs it; the SDK is imported
    by a background thread started when this is made (with `preload`) or by `preload` later."""

    name = "agent"

    def __init__(self, settings: ApiSettings, environ: dict[str, str], *, preload: bool = True) -> None:
        api_endpoint(settings, environ)  # fail now, not at the first model step
        self._settings = settings
        self._environ = environ
        self._real: Any = None
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        if preload:
            self.preload()

    def preload(self) -> None:
        """Start importing the SDK in the background, unless that has begun."""
        with self._lock:
            if self._loader is None and self._real is None:
                self._loader = threading.Thread(target=_load, name="agents-sdk-import", daemon=True)
                self._loader.start()

    def _executor(self) -> Any:
        with self._lock:
            if self._real is None:
                if self._loader is not None:
                    self._loader.join()
                from agentfiles.executors.anthropic import AnthropicExecutor

                self._real = AnthropicExecutor(self._settings, self._environ)
                self._real.client  # noqa: B018 - a cloud provider's missing extras fail here, once
            return self._real

    def execute(self, request: Any, runtime: Any) -> Any:
        return self._executor().execute(request, runtime)

    def converse(self, *args: Any, **kwargs: Any) -> Any:
        return self._executor().converse(*args, **kwargs)

    def count_tokens(self, body: dict[str, Any], cancel: Any = None) -> int:
        return self._executor().count_tokens(body, cancel)


def _load() -> None:
    try:
        import agentfiles.executors.anthropic  # noqa: F401
    except Exception:  # noqa: BLE001 - reported by the import on first use, in the step's thread
        pass
