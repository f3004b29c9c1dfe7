"""The share of each model step's input read from the prompt cache, for consecutive steps of one role,
against the local Messages API of the tests (tests/fake_anthropic.py), which applies the API's caching
rules (minimum cacheable length per model, exact prefix match, 5-minute lifetime) with its own token
estimate (characters / 4). The steps run with scripted answers: no key, no network.

Usage (with the project's .venv): .venv/bin/python bench/cache_bench.py [--steps 6] [--model sonnet]

Two pipelines of the starter `developer` role, each step writing one file in two turns:
- starter: each step reads only its own small input. The stable prefix (tools, role prompt, CLAUDE.md)
  is below the model's minimum: nothing is cached across steps (`--dry-run` says so).
- shared guide: each step also reads docs/guide.md (about 2,500 tokens), which the context puts first
  and closes with a cache breakpoint: every step after the first reads it from the cache.

Prints, per step, the input tokens of its first request and of the whole step, and the share read from
the cache; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from agentfiles.storage.documents import dump_document  # noqa: E402
from fake_anthropic import FakeAnthropic, Reply  # noqa: E402
from generate import git_env  # noqa: E402

AGENTS = Path(sys.executable).parent / "agents"
GUIDE = "".join(
    f"Rule {n}: name things for what they are; keep functions short and errors explicit.\n"
    for n in range(120)
)


def pipeline(root: Path, steps: int, model: str, guide: bool, base_url: str) -> None:
    env = git_env()
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run([str(AGENTS), "-C", str(root), "init"], check=True, capture_output=True, env=env)
    (root / ".agents" / "tasks" / "describe-project.md").unlink()
    config = root / ".agents" / "config.yaml"
    text = config.read_text().replace("model: sonnet", f"model: {model}")
    start = text.index("api:\n")
    end = text.index("\n\n", start)
    config.write_text(text[:start] + f"api:\n  base_url: {json.dumps(base_url)}\n  retries: 0" + text[end:])
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text(GUIDE)
    (root / "data").mkdir()
    for i in range(steps):
        (root / "data" / f"part-{i}.txt").write_text(f"Part {i} of the notes.\n")
        inputs = [f"data/part-{i}.txt"] + (["docs/guide.md"] if guide else [])
        meta = {
            "title": f"Summarise part {i}",
            "role": "developer",
            "inputs": inputs,
            "outputs": [f"out/part-{i}.md"],
            **({"needs": [f"step-{i - 1}"]} if i else {}),
        }
        (root / ".agents" / "tasks" / f"step-{i}.md").write_text(
            dump_document(meta, f"## Intent\n\nSummarise part {i} in one line.\n")
        )
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "pipeline"], check=True, env=env)


def run(label: str, steps: int, model: str, guide: bool) -> None:
    with FakeAnthropic() as api, tempfile.TemporaryDirectory(prefix="agents-cache-bench-") as tmp:
        root = Path(tmp) / "repo"
        pipeline(root, steps, model, guide, api.base_url)
        for i in range(steps):
            api.queue(
                Reply.tool_use("write_file", {"path": f"out/part-{i}.md", "content": f"Part {i}.\n"}),
                Reply.tool_use("finish", {"summary": f"Summarised part {i}."}),
            )
        env = dict(git_env(), ANTHROPIC_API_KEY="bench-key-not-real")
        dry = subprocess.run(
            [str(AGENTS), "-C", str(root), "run", "step-1" if steps > 1 else "step-0", "--dry-run"],
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        done = subprocess.run(
            [str(AGENTS), "-C", str(root), "run", "--jobs", "1"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            print(f"{label}: the run failed: {done.stderr.strip()}")
            return
        print(f"\n{label} ({steps} steps of role developer, model {model})")
        print(
            f"{'step':<8} {'first request':>14} {'read':>7} {'written':>8} {'step input':>11} {'read':>7} {'share':>6}"
        )
        requests = api.message_requests
        shares = []
        for i in range(steps):
            first, second = requests[2 * i].cache, requests[2 * i + 1].cache
            whole = sum(_input(r) for r in requests[2 * i : 2 * i + 2])
            read = first.get("cache_read_input_tokens", 0) + second.get("cache_read_input_tokens", 0)
            share = read / whole if whole else 0.0
            shares.append(share)
            print(
                f"step-{i:<3} {_input(requests[2 * i]):>14} {first.get('cache_read_input_tokens', 0):>7} "
                f"{first.get('cache_creation_input_tokens', 0):>8} {whole:>11} {read:>7} {share:>6.0%}"
            )
        later = shares[1:] or shares
        print(f"input read from the cache, steps after the first: {sum(later) / len(later):.0%} on average")
        notes = [line for line in dry.stderr.splitlines() if "caches nothing" in line]
        print(
            "`agents run --dry-run` says: "
            + (notes[0].split(": ", 1)[1] if notes else "every breakpoint reaches the minimum")
        )


def _input(request) -> int:  # type: ignore[no-untyped-def]
    from fake_anthropic import estimate_tokens

    return estimate_tokens(request.body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--model", default="sonnet", help="a model alias of the config (sonnet, opus, haiku)")
    args = parser.parse_args()
    if not AGENTS.exists():
        print(f"no agents executable next to {sys.executable}; run this with the project's .venv python")
        return 2
    run("starter layout", args.steps, args.model, guide=False)
    run("shared guide", args.steps, args.model, guide=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
