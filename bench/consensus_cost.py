"""What doubting a verdict costs in tokens: one model step run with one verifier, with a verifier panel, with
`samples:`, and with both, against the local Messages API of the tests (tests/fake_anthropic.py), whose
token counts are its own estimate (characters / 4) of the requests agents really builds. The answers are
scripted: no key, no network.

Usage (with the project's .venv): .venv/bin/python bench/consensus_cost.py [--input-tokens 3000]

The step summarises one input file of about --input-tokens tokens, with two prose criteria; the doer
writes its output in two turns, each judge answers in one. Prints, per variant, the tokens the step sent
and received (input, cache reads and writes included), the doer's and the judges' parts, and the ratio
to the single verifier from the same run; asserts nothing. A progressive rollout (`run --canary`) is not
measured: it runs the same steps as a plain run, in another order.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from agentfiles.storage.documents import dump_document, parse_document  # noqa: E402
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply  # noqa: E402
from generate import git_env, init_for_api  # noqa: E402

AGENTS = Path(sys.executable).parent / "agents"
JUDGES = ["reviewer", "qa", "third"]
VARIANTS = [
    ("one verifier", {"verifier": "reviewer"}),
    ("panel of 3", {"verifier": JUDGES}),
    ("samples: 3", {"verifier": "reviewer", "samples": 3}),
    ("samples: 3, compare: verifier", {"verifier": "reviewer", "samples": 3, "compare": "verifier"}),
    ("samples: 3 and panel of 3", {"verifier": JUDGES, "samples": 3}),
]


def answers(differ: bool):  # type: ignore[no-untyped-def]
    """Doers write a summary (three different ones when `differ`, so the equivalence judge is asked);
    judges pass both criteria; an equivalence judge puts every candidate in one group."""
    texts = itertools.cycle(["The release moves to March.\n", "March is the new date.\n", "It ships in March.\n"]
                            if differ else ["The release moves to March.\n"])
    lock = threading.Lock()

    def answer(request: RecordedRequest) -> Reply:
        tools = [t["name"] for t in request.body.get("tools") or []]
        if "verdict" in tools:
            return Reply.tool_use("verdict", {"checks": [
                {"criterion": "1", "verdict": "pass", "evidence": "one paragraph"},
                {"criterion": "2", "verdict": "pass", "evidence": "names March"}]})
        if "equivalence" in tools:
            count = request.body["tools"][0]["input_schema"]["properties"]["groups"]["items"]["items"]["maximum"]
            return Reply.tool_use("equivalence", {"groups": [list(range(1, count + 1))], "reason": "all say March"})
        if len(request.body["messages"]) == 1:
            with lock:
                text = next(texts)
            return Reply.tool_use("write_file", {"path": "out/summary.md", "content": text})
        return Reply.tool_use("finish", {"summary": "Wrote out/summary.md."})

    return answer


def project(root: Path, base_url: str, input_tokens: int, fields: dict[str, object]) -> None:
    env = git_env()
    init_for_api(root, AGENTS, base_url)
    for name in JUDGES[1:]:
        (root / ".agents" / "roles" / f"{name}.md").write_text(
            f"---\nname: {name}\ndescription: A judge.\n---\nYou are {name}. You judge work against its criteria.\n")
    line = "The release planned for February moves to March, after the migration of the billing service.\n"
    (root / "notes.md").write_text(line * max(1, input_tokens * 4 // len(line)))
    meta = {"title": "Summarise the release notes", "role": "developer", "inputs": ["notes.md"],
            "outputs": ["out/summary.md"], "acceptance": ["One paragraph", "Names the new month"], **fields}
    (root / ".agents" / "tasks" / "summary.md").write_text(dump_document(meta, "## Intent\n\nOne paragraph.\n"))
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "task"], check=True, env=env)


def measure(fields: dict[str, object], input_tokens: int) -> dict[str, int] | str:
    differ = fields.get("compare") == "verifier"
    with FakeAnthropic(*([answers(differ)] * 40)) as api, tempfile.TemporaryDirectory(prefix="agents-consensus-") as tmp:
        root = Path(tmp) / "repo"
        project(root, api.base_url, input_tokens, fields)
        done = subprocess.run([str(AGENTS), "-C", str(root), "run"], capture_output=True, text=True, check=False,
                              env=dict(git_env(), ANTHROPIC_API_KEY="bench-key-not-real"))
        if done.returncode != 0:
            return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        meta = parse_document((root / ".agents/handoffs/summary.md").read_text()).meta
        record = json.loads((root / ".agents/runs" / meta["run"] / "record.json").read_text())
        judges = [record.get("verifier"), *((record.get("panel") or {}).get("judges") or []), record.get("equivalence")]
        judged = sum(_tokens((j or {}).get("usage") or {}) for j in judges)
        total = _tokens(meta["usage"])
        return {"total": total, "doer": total - judged, "judges": judged, "requests": len(api.message_requests)}


def _tokens(usage: dict[str, int]) -> int:
    return sum(int(usage.get(k) or 0) for k in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                                                  "cache_creation_input_tokens"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-tokens", type=int, default=3000, help="about how large the step's input is")
    args = parser.parse_args()
    if not AGENTS.exists():
        print(f"no agents executable next to {sys.executable}; run this with the project's .venv python")
        return 2
    print(f"one step, an input of about {args.input_tokens} tokens, two criteria")
    print(f"{'variant':<32} {'requests':>8} {'doer':>8} {'judges':>8} {'total':>8} {'x one verifier':>15}")
    base = None
    for label, fields in VARIANTS:
        found = measure(fields, args.input_tokens)
        if isinstance(found, str):
            print(f"{label:<32} failed: {found}")
            continue
        base = base or found["total"]
        print(f"{label:<32} {found['requests']:>8} {found['doer']:>8} {found['judges']:>8} {found['total']:>8} "
              f"{found['total'] / base:>14.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
