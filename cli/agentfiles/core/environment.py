"""What a command step's environment may hold: the caller's variables minus secrets, plus the step's own."""

from __future__ import annotations

import re

_SECRET_NAME = re.compile(r"(_KEY|_TOKEN|_SECRET)$|PASSWORD|^ANTHROPIC_API_KEY$", re.IGNORECASE)


def is_secret(name: str) -> bool:
    """True for ANTHROPIC_API_KEY and any name ending in _KEY, _TOKEN or _SECRET or containing PASSWORD."""
    return bool(_SECRET_NAME.search(name))


def step_environment(
    environ: dict[str, str], allowed: list[str], extra: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The environment of a step and the names of the secrets withheld from it.

    `allowed` are names the task lists under `env:`: kept even when they look secret.
    """
    keep = set(allowed)
    env: dict[str, str] = {}
    withheld: list[str] = []
    for name, value in environ.items():
        if is_secret(name) and name not in keep:
            withheld.append(name)
        elif not name.startswith("AGENTS_"):
            env[name] = value
    env.update(extra)
    return env, sorted(withheld)


def api_configured(base_url: str | None, provider: str, environ: dict[str, str]) -> bool:
    """Whether `executor: auto` should use the API: a key, an auth token or a base URL is configured, or
    a cloud provider is chosen."""
    return bool(
        environ.get("ANTHROPIC_API_KEY")
        or environ.get("ANTHROPIC_AUTH_TOKEN")
        or environ.get("ANTHROPIC_BASE_URL")
        or base_url
        or provider != "anthropic"
    )


REDACTED = b"[redacted]"
MIN_SECRET_LENGTH = 8  # shorter values are too likely to occur by chance to be worth replacing


def secret_values(environ: dict[str, str]) -> list[bytes]:
    """The values of the secret variables, longest first, as they would appear in a record."""
    values = {v.encode("utf-8") for k, v in environ.items() if is_secret(k) and len(v) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(data: bytes, secrets: list[bytes]) -> bytes:
    """`data` with every secret value replaced by `[redacted]`: what the API or a command echoes back
    (an error quoting the key, a stack trace printing the environment) never lands in git."""
    for secret in secrets:
        if secret in data:
            data = data.replace(secret, REDACTED)
    return data
