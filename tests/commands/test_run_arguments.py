"""`agents run` read without typer (commands/cli.py): it reads exactly what typer's parser reads, leaves every
other argument list to typer, answers the same, and spares the run typer's import."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
from agentfiles.commands.app import app
from agentfiles.commands.app import run as run_through_typer
from agentfiles.commands.cli import run_arguments
from conftest import task_text, write_files

TOKENS = [
    "run", "run", "run", "status", "-C", "/tmp", "some-dir", "--json", "--color", "--no-color", "t1", "t2", "x.y_z",
    "--jobs", "-j", "3", "0", "-1", "08", "+2", " 4", "1_0", "\u0663", "--jobs=4", "--jobs=", "--jobs=0", "-j2", "-j=2",
    "-jx", "--branch", "-b", "feature", "-bfeat", "--branch=x", "--branch=", "--cluster", "local:2",
    "--cluster=tcp://h:1", "--force", "--force=1", "-k", "-n", "-kn", "--keep-going", "--dry-run", "--no-deps",
    "--no-cache", "--no-cluster", "--canary", "2", "--canary-pick", "--wave", "--", "-", "--help", "-h", "-x",
    "--jbs", "", "--force", "--dry-run", "-j", "8",
]


def typer_reading(args: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The global options and `run`'s parameters as the typer application's parser reads `args` (None when
    it refuses them or they are not `agents run`)."""
    group = typer.main.get_command(app)
    try:
        ctx = group.make_context("agents", list(args))
        name, command, rest = group.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        if name != "run" or command is None:
            return None
        return dict(ctx.params), dict(command.make_context(name, rest, parent=ctx).params)
    except (typer.TyperException, typer.Exit, typer.Abort):
        return None


def test_what_is_read_without_typer_is_what_typer_reads(capsys) -> None:  # type: ignore[no-untyped-def]
    chance = random.Random(14)
    lists = [["run"], ["run", "t1"], ["-C", "/tmp", "run", "--jobs", "8"], ["--json", "run", "-n", "t1", "t2"],
             ["run", "--force", "-j", "2", "--keep-going", "--no-deps", "--no-cache", "--branch", "b", "--json"]]
    for _ in range(3000):
        before = [chance.choice(TOKENS[3:10]) for _ in range(chance.randrange(3))]
        after = [chance.choice(TOKENS) for _ in range(chance.randrange(6))]
        lists.append([*before, "run", *after] if chance.random() < 0.9 else [*before, *after])
    read = 0
    for args in lists:
        ours = run_arguments(args)
        if ours is not None:
            read += 1
            assert typer_reading(args) == ours, args
    capsys.readouterr()  # what typer printed for --help
    assert read > 500  # the common forms are read here, not a handful


def test_a_run_answers_the_same_without_typer(project: Path, agents, capsys) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/a.md": task_text(run="echo a > a.txt", outputs=["a.txt"])})
    for args in (["run", "nope"], ["--json", "run", "nope"], ["run", "--dry-run"], ["run", "--json", "-n", "a"],
                 ["run", "--cluster", "nowhere"], ["run", "-j", "2", "--branch", "-x"]):
        full = ["-C", str(project), *args]
        ours = agents(*full)
        capsys.readouterr()
        code = run_through_typer(full)
        theirs = capsys.readouterr()
        assert (ours.code, ours.out, ours.err) == (code, theirs.out, theirs.err), args


def test_a_command_run_imports_neither_typer_nor_what_model_steps_need(project: Path) -> None:
    write_files(project, {".agents/tasks/a.md": task_text(run="echo a > a.txt", outputs=["a.txt"])})
    probe = ("import sys\nfrom agentfiles.entry import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    print('CODE', e.code, 'LOADED', sorted(m for m in ('typer', 'agentfiles.runner.agent', "
             "'agentfiles.core.conversation', 'agentfiles.runner.verify') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe, "-C", str(project), "run", "--jobs", "2"],
                          check=False, capture_output=True, text=True)
    assert "done  a" in done.stderr
    assert done.stdout.splitlines()[-1] == "CODE 0 LOADED []"
    mistake = subprocess.run([sys.executable, "-c", probe, "-C", str(project), "run", "--jobs", "0"],
                             check=False, capture_output=True, text=True)
    assert mistake.stdout.splitlines()[-1] == "CODE 2 LOADED ['typer']"
    assert "0 is not in the range x>=1" in mistake.stderr
