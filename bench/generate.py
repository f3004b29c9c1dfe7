"""Generates agents projects of N tasks for benchmarks: a DAG with needs, file inputs, a handoff input,
outputs, and a handoff record per task whose hashes match, so that every task is `done`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agentfiles.core.fingerprint import digest_file, handoff_digest
from agentfiles.core.models import Config, Task
from agentfiles.core.schema import parse
from agentfiles.storage.documents import dump_document
from agentfiles.storage.scaffold import init_project

RUN_ID = "20261124T120000Z-bench0"


def task_id(i: int) -> str:
    return f"task-{i:05d}"


def needs_of(i: int) -> list[int]:
    """Task i needs task i-1 and task i//2 (when they exist and differ from i): a deep, wide DAG."""
    return sorted({j for j in (i - 1, i // 2) if 0 <= j < i})


def git_env(home: Path | None = None) -> dict[str, str]:
    """The environment for git (and Backlog.md): no global/system git config, a fixed identity, no
    colour, and optionally its own HOME."""
    env = dict(os.environ)
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
        NO_COLOR="1",
    )
    if home is not None:
        env["HOME"] = str(home)
    return env


def init_for_api(root: Path, agents: Path, base_url: str) -> None:
    """A new repository at `root` after `agents init`, without the example task, whose model steps call the
    Messages API at `base_url` with no retries (the local one of the tests, for a bench)."""
    import json

    env = git_env()
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run([str(agents), "-C", str(root), "init"], check=True, capture_output=True, env=env)
    (root / ".agents" / "tasks" / "describe-project.md").unlink()
    config = root / ".agents" / "config.yaml"
    text = config.read_text()
    start = text.index("api:\n")
    end = text.index("\n\n", start)
    config.write_text(text[:start] + f"api:\n  base_url: {json.dumps(base_url)}\n  retries: 0" + text[end:])


def make_agents_project(root: Path, n_tasks: int, *, commit: bool = True) -> None:
    """An initialised repository at `root` with `n_tasks` done tasks (see module docstring)."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=git_env())
    init_project(root)
    (root / ".agents" / "tasks" / "describe-project.md").unlink()
    config = Config()
    tasks_dir = root / ".agents" / "tasks"
    handoffs_dir = root / ".agents" / "handoffs"
    (root / "data").mkdir(exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    from agentfiles.core.fingerprint import definition_digest

    bodies: dict[int, str] = {}
    for i in range(n_tasks):
        tid = task_id(i)
        needs = [task_id(j) for j in needs_of(i)]
        source = f"data/in-{i:05d}.txt"
        output = f"out/{tid}.txt"
        (root / source).write_text(f"input {i}\n")
        (root / output).write_text(f"output {i}\n")
        inputs: list[object] = [source]
        if i > 0:
            inputs.append(f"out/{task_id(i - 1)}.txt")
            inputs.append({"handoff": task_id(i - 1)})
        meta = {
            "title": f"Task {i}: step {i}",
            "executor": "command",
            "run": f"cat {source} > {output}",
            "needs": needs,
            "inputs": inputs,
            "outputs": [output],
            "acceptance": [{"run": f"test -s {output}"}],
        }
        intent = f"## Intent\n\nProduce {output} from {source}.\n"
        (tasks_dir / f"{tid}.md").write_text(dump_document(meta, intent))
        task = parse(Task, meta)
        recorded_inputs = {source: digest_file(root / source)}
        if i > 0:
            recorded_inputs[f"out/{task_id(i - 1)}.txt"] = digest_file(root / f"out/{task_id(i - 1)}.txt")
            recorded_inputs[f"handoff:{task_id(i - 1)}"] = handoff_digest(bodies[i - 1])
        body = f"## Summary\n\nWrote {output}.\n"
        bodies[i] = body
        handoff = {
            "schema": 1,
            "task": tid,
            "run": RUN_ID,
            "status": "done",
            "executor": "command",
            "isolation": "os",
            "definition": (definition := definition_digest(task, intent, None, "", config.resolve_model(None))),
            "definition_parts": {"task": definition},
            "inputs": recorded_inputs,
            "outputs": {output: digest_file(root / output)},
            "upstream": {n: RUN_ID for n in needs},
            "usage": {"duration_s": 0.012},
            "started": "2026-11-24T12:00:00Z",  # as the runner writes them (quoted: YAML would read a date)
            "finished": "2026-11-24T12:00:01Z",
        }
        (handoffs_dir / f"{tid}.md").write_text(dump_document(handoff, body))
    if commit:
        env = git_env()
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(root), "commit", "-qm", "bench fixture"], check=True, env=env)


def make_model_project(root: Path, n_tasks: int) -> None:
    """An initialised repository at `root` with `n_tasks` model steps of one role that never ran, all ready:
    each reads its own file and one the role's steps share, and writes its own output. A status sizes the
    context of each (what `agents run` would send), which no project of command steps exercises."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=git_env())
    init_project(root)
    (root / ".agents" / "tasks" / "describe-project.md").unlink()
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "style.md").write_text("# Style\n\nShort sentences.\n")
    for i in range(n_tasks):
        source = f"data/in-{i:05d}.txt"
        (root / source).write_text(f"input {i}\n" * 20)
        meta = {"title": f"Summarise {i}", "role": "developer", "inputs": ["data/style.md", source],
                "outputs": [f"out/summary-{i:05d}.md"]}
        intent = f"## Intent\n\nSummarise {source} in the house style.\n"
        (root / ".agents" / "tasks" / f"summary-{i:05d}.md").write_text(dump_document(meta, intent))
    env = git_env()
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "bench fixture"], check=True, env=env)
