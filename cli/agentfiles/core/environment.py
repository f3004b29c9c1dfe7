"""What a command step's environment may hold: the caller's variables minus secrets, plus the step's own."""

from __future__ import annotations

import base64
import json
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
# Values shorter than this are too likely to occur by chance to be worth replacing (documented in
# docs/convention.md, "Secrets").
MIN_SECRET_LENGTH = 8


def secret_forms(value: bytes) -> list[bytes]:
    """The ways a secret's value shows up in a file: as is, JSON-escaped, and base64-encoded (standard
    and URL-safe, at each of the three alignments it can have inside a longer encoded text)."""
    forms = {value}
    escaped = json.dumps(value.decode("utf-8", "replace"))[1:-1].encode("utf-8")
    forms.add(escaped)
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + value)
        start = (pad * 4 + 2) // 3  # characters that also encode the padding
        end = ((pad + len(value)) * 8) // 6  # characters wholly made of the value's bits
        for form in (encoded, encoded.translate(_URLSAFE)):
            fragment = form[start:end]
            if len(fragment) >= MIN_SECRET_LENGTH:
                forms.add(fragment)
    return sorted(forms, key=len, reverse=True)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def secret_values(environ: dict[str, str], keep: list[str] | None = None) -> list[bytes]:
    """Every form of the values of the secret variables (but those in `keep`), longest first, as they
    would appear in a record or an output."""
    return [form for _, form in _secret_forms(environ, keep)]


def _secret_forms(environ: dict[str, str], keep: list[str] | None) -> list[tuple[str, bytes]]:
    kept = set(keep or ())
    found: dict[bytes, str] = {}
    for name, value in sorted(environ.items()):
        if is_secret(name) and name not in kept and len(value) >= MIN_SECRET_LENGTH:
            for form in secret_forms(value.encode("utf-8")):
                found.setdefault(form, name)
    return sorted(((name, form) for form, name in found.items()), key=lambda pair: len(pair[1]), reverse=True)


def leaked_secrets(files: dict[str, bytes], environ: dict[str, str], published: list[str]) -> dict[str, list[str]]:
    """Which secret variables (by name, never value) each of `files` holds, in any of their forms;
    `published` are the variables the task lets its outputs hold."""
    forms = _secret_forms(environ, published)
    found: dict[str, list[str]] = {}
    for rel, data in files.items():
        names = sorted({name for name, form in forms if form in data})
        if names:
            found[rel] = names
    return found


def redact(data: bytes, secrets: list[bytes]) -> bytes:
    """`data` with every secret value (in each of its forms, see `secret_values`) replaced by
    `[redacted]`: what the API or a command echoes back (an error quoting the key, a stack trace
    printing the environment) never lands in git."""
    for secret in secrets:
        if secret in data:
            data = data.replace(secret, REDACTED)
    return data
