"""What a step's environment holds, and how secret values are found and redacted wherever they show up."""

from __future__ import annotations

import base64
import json

import pytest

from agentfiles.core.environment import (
    MIN_SECRET_LENGTH,
    REDACTED,
    api_configured,
    is_secret,
    leaked_secrets,
    redact,
    secret_forms,
    secret_values,
    step_environment,
)


@pytest.mark.parametrize("name", ["ANTHROPIC_API_KEY", "GITHUB_TOKEN", "AWS_SECRET", "db_password", "MY_PASSWORD_FILE",
                                  "stripe_key", "X_Api_Token"])
def test_secret_names(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "KEYBOARD", "TOKENIZERS_PARALLELISM", "SECRETARY", "KEY_FILE", ""])
def test_names_that_are_not_secret(name: str) -> None:
    assert not is_secret(name)


def test_a_steps_environment_withholds_secrets_and_the_callers_agents_variables() -> None:
    environ = {"PATH": "/bin", "GITHUB_TOKEN": "t" * 20, "DEPLOY_KEY": "k" * 20, "AGENTS_TASK": "caller's",
               "AGENTS_RUN": "x", "LANG": "C"}
    env, withheld = step_environment(environ, ["DEPLOY_KEY"], {"AGENTS_TASK": "mine", "EXTRA": "1"})
    assert env == {"PATH": "/bin", "DEPLOY_KEY": "k" * 20, "LANG": "C", "AGENTS_TASK": "mine", "EXTRA": "1"}
    assert withheld == ["GITHUB_TOKEN"]


def test_withheld_names_are_sorted() -> None:
    _, withheld = step_environment({"Z_TOKEN": "z", "A_KEY": "a", "M_SECRET": "m"}, [], {})
    assert withheld == ["A_KEY", "M_SECRET", "Z_TOKEN"]


@pytest.mark.parametrize(("base_url", "provider", "environ", "expected"), [
    (None, "anthropic", {}, False),
    (None, "anthropic", {"ANTHROPIC_API_KEY": "k"}, True),
    (None, "anthropic", {"ANTHROPIC_AUTH_TOKEN": "t"}, True),
    (None, "anthropic", {"ANTHROPIC_BASE_URL": "http://x"}, True),
    ("http://x", "anthropic", {}, True),
    (None, "bedrock", {}, True),
    (None, "anthropic", {"ANTHROPIC_API_KEY": ""}, False),
])
def test_when_the_api_is_configured(base_url, provider, environ, expected) -> None:  # type: ignore[no-untyped-def]
    assert api_configured(base_url, provider, environ) is expected


SECRET = 'sk-"quoted"\\slash-0123456789'


def test_the_forms_of_a_secret_cover_raw_json_and_base64_at_every_alignment() -> None:
    forms = secret_forms(SECRET.encode())
    assert SECRET.encode() in forms
    assert json.dumps(SECRET)[1:-1].encode() in forms
    assert forms == sorted(forms, key=len, reverse=True)
    for pad in (b"", b"x", b"xy", b"xyz"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(pad + SECRET.encode() + b"tail")
            assert any(form in text for form in forms), (pad, encode)
    assert all(len(form) >= MIN_SECRET_LENGTH for form in forms)


def test_a_value_with_nothing_to_escape_has_one_json_form() -> None:
    forms = secret_forms(b"plainvalue123")
    assert forms.count(b"plainvalue123") == 1


def test_secret_values_take_secret_variables_of_the_minimum_length_and_up() -> None:
    environ = {"A_TOKEN": "x" * MIN_SECRET_LENGTH, "B_TOKEN": "y" * (MIN_SECRET_LENGTH - 1), "PLAIN": "z" * 40,
               "C_KEY": "w" * 30}
    values = secret_values(environ)
    assert b"x" * MIN_SECRET_LENGTH in values and b"w" * 30 in values
    assert not any(v.startswith(b"y") for v in values) and b"z" * 40 not in values
    assert values == sorted(values, key=len, reverse=True)
    assert b"w" * 30 not in secret_values(environ, keep=["C_KEY"])


def test_leaked_secrets_name_the_file_and_the_variable_never_the_value() -> None:
    environ = {"A_TOKEN": "alpha-secret-value", "B_KEY": "bravo-secret-value", "PATH": "/bin"}
    files = {
        "clean.txt": b"nothing here /bin",
        "raw.txt": b"x alpha-secret-value y",
        "b64.txt": base64.b64encode(b"--bravo-secret-value--"),
        "both.txt": b"alpha-secret-value bravo-secret-value",
    }
    assert leaked_secrets(files, environ, []) == {"raw.txt": ["A_TOKEN"], "b64.txt": ["B_KEY"],
                                                  "both.txt": ["A_TOKEN", "B_KEY"]}
    assert leaked_secrets(files, environ, ["A_TOKEN"]) == {"b64.txt": ["B_KEY"], "both.txt": ["B_KEY"]}


def test_redaction_replaces_every_form_and_leaves_the_rest() -> None:
    environ = {"A_TOKEN": SECRET}
    data = f"raw {SECRET} json {json.dumps(SECRET)} b64 {base64.b64encode(SECRET.encode()).decode()} end".encode()
    out = redact(data, secret_values(environ))
    assert SECRET.encode() not in out and json.dumps(SECRET)[1:-1].encode() not in out
    assert base64.b64encode(SECRET.encode())[:-4] not in out
    assert out.startswith(b"raw " + REDACTED) and out.endswith(b" end")
    assert redact(b"nothing", secret_values(environ)) == b"nothing"
    assert redact(b"x", []) == b"x"
