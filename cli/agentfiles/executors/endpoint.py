"""Where the API executor sends its requests, and with which credentials, decided without the SDK: a
missing key or a malformed base URL stops a run before any step, whether or not the SDK is loaded yet."""

from __future__ import annotations

from agentfiles.core.models import ApiSettings
from agentfiles.errors import PreconditionError


def api_endpoint(settings: ApiSettings, environ: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """(base URL, API key, auth token) the client will use; a PreconditionError when they cannot work."""
    if settings.provider != "anthropic":
        return None, None, None  # the cloud SDK clients find their own credentials
    base_url = settings.base_url or environ.get("ANTHROPIC_BASE_URL") or None
    if base_url and not base_url.startswith(("http://", "https://")):
        where = "api.base_url in .agents/config.yaml" if settings.base_url else "ANTHROPIC_BASE_URL"
        raise PreconditionError(f"{where} is not an http(s) URL: {base_url!r}",
                                hint="e.g. https://api.anthropic.com or http://localhost:8080")
    key = environ.get("ANTHROPIC_API_KEY")
    token = environ.get("ANTHROPIC_AUTH_TOKEN")
    if not key and not token:
        if not base_url:
            raise PreconditionError("no API key is configured",
                                    hint="set ANTHROPIC_API_KEY, or ANTHROPIC_BASE_URL for an Anthropic-compatible endpoint")
        key = "no-key"  # an Anthropic-compatible endpoint that does not check keys
    return base_url, key, token
