"""Benchmarks Backlog.md (`backlog task list --plain`) on the same N-task DAG used for `agents status`:
installs the npm package into a local cache, writes a Backlog.md project as files, and times the listing."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate import git_env  # one git environment for every bench script

PACKAGE = "backlog.md"
TASK_PREFIX = "task"
ORDINAL_STEP = 1000
# Directories `backlog init` creates under backlog/ (git does not track the empty ones).
BACKLOG_SUBDIRS = (
    "tasks",
    "drafts",
    "completed",
    "docs",
    "decisions",
    "milestones",
    "archive/tasks",
    "archive/drafts",
    "archive/milestones",
)


def _npm_env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        npm_config_cache=str(cache_dir / "npm-cache"),  # also holds npm's _logs
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
        npm_config_global="false",
    )
    return env


def _native_binary(prefix: Path) -> Path | None:
    """The platform package's executable (`backlog.md-<os>-<arch>/backlog`) if it is installed."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows"}.get(sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if system is None or arch is None:
        return None
    name = "backlog.exe" if system == "windows" else "backlog"
    candidate = prefix / "node_modules" / f"{PACKAGE}-{system}-{arch}" / name
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def _shim(prefix: Path) -> Path | None:
    """npm's `.bin/backlog`: a Node script that spawns the platform binary."""
    shim = prefix / "node_modules" / ".bin" / ("backlog.cmd" if os.name == "nt" else "backlog")
    return shim if shim.exists() else None


def backlog_version(backlog: Path) -> str:
    """`backlog --version`, raising RuntimeError if the executable does not run."""
    try:
        proc = subprocess.run(
            [str(backlog), "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise RuntimeError(f"cannot run {backlog}: {exc}") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"{backlog} --version failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def install_backlog(cache_dir: Path, *, version: str | None = None, native: bool = True) -> Path:
    """Installs `backlog.md` with npm under `cache_dir` (reused if present); returns a runnable `backlog`.

    The npm package ships a Node launcher (`cli.js`, linked as `.bin/backlog`) that resolves and spawns a
    compiled Bun binary from a per-platform optional dependency (`backlog.md-linux-x64`, ...). With
    `native` (the default) the platform binary itself is returned, so timings exclude Node's start-up;
    otherwise the npm launcher is returned, as a user running `npx`/npm-installed `backlog` would get.
    """
    cache_dir = cache_dir.resolve()
    prefix = cache_dir / "npm"

    def pick() -> Path | None:
        return _native_binary(prefix) if native else _shim(prefix)

    found = pick()
    installed = prefix / "node_modules" / PACKAGE / "package.json"
    if found is not None and installed.is_file():
        try:
            backlog_version(found)
            return found
        except RuntimeError:
            pass  # broken install: reinstall below

    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH; install Node.js (which ships npm) to benchmark Backlog.md")
    prefix.mkdir(parents=True, exist_ok=True)
    spec = f"{PACKAGE}@{version}" if version else PACKAGE
    cmd = [npm, "install", "--prefix", str(prefix), "--include=optional", "--no-audit", "--no-fund", spec]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=_npm_env(cache_dir), stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    found = pick()
    if found is None:
        what = "platform binary package (backlog.md-<os>-<arch>)" if native else "npm launcher .bin/backlog"
        raise RuntimeError(f"{PACKAGE} installed under {prefix} but its {what} is missing for this platform")
    backlog_version(found)
    return found


def task_id(i: int) -> str:
    """Backlog.md's id for 0-based task i (Backlog ids start at 1, upper-case prefix in frontmatter)."""
    return f"{TASK_PREFIX.upper()}-{i + 1}"


def deps_of(i: int) -> list[int]:
    """Task i depends on task i-1 and task i//2 when they exist and differ from i (i-1 first)."""
    out: list[int] = []
    for j in (i - 1, i // 2):
        if 0 <= j < i and j not in out:
            out.append(j)
    return out


def _title_for_filename(title: str) -> str:
    """Backlog.md's filename slug: unsafe chars to '-', some punctuation dropped, spaces to '-', collapsed."""
    s = re.sub(r'[<>:"/\\|?*]', "-", title)
    s = re.sub(r"['(),!@#$%^&+=\[\]{};]", "", s)
    s = re.sub(r"\s+", "-", s)
    s = re.sub(r"-+", "-", s)
    return s.strip("-")


def _yaml_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _yaml_list(key: str, items: list[str]) -> str:
    if not items:
        return f"{key}: []\n"
    return f"{key}:\n" + "".join(f"  - {item}\n" for item in items)


def backlog_config(project_name: str) -> str:
    """backlog/config.yml as `backlog init --defaults --integration-mode none --check-branches false
    --include-remote false --auto-open-browser false` writes it: no git or network work on reads."""
    return (
        f'project_name: "{project_name}"\n'
        'default_status: "To Do"\n'
        'statuses: ["To Do", "In Progress", "Done"]\n'
        "labels: []\n"
        "date_format: yyyy-mm-dd\n"
        "max_column_width: 20\n"
        "auto_open_browser: false\n"
        "default_port: 6420\n"
        "remote_operations: false\n"
        "auto_commit: false\n"
        "filesystem_only: false\n"
        "bypass_git_hooks: false\n"
        "check_active_branches: false\n"
        "active_branch_days: 30\n"
        f'task_prefix: "{TASK_PREFIX}"\n'
    )


def backlog_task(i: int, created: str) -> tuple[str, str]:
    """(filename, content) of task i as `backlog task create "<title>" -d "<desc>" --dep ...` writes it."""
    title = f"Task {i}: step {i}"
    deps = [task_id(j) for j in deps_of(i)]
    content = (
        "---\n"
        f"id: {task_id(i)}\n"
        f"title: {_yaml_quote(title)}\n"
        "status: To Do\n"
        "assignee: []\n"
        f"created_date: {_yaml_quote(created)}\n"
        "labels: []\n"
        f"{_yaml_list('dependencies', deps)}"
        f"ordinal: {(i + 1) * ORDINAL_STEP}\n"
        "---\n"
        "\n"
        "## Description\n"
        "\n"
        "<!-- SECTION:DESCRIPTION:BEGIN -->\n"
        f"Step {i} of the benchmark DAG.\n"
        "<!-- SECTION:DESCRIPTION:END -->\n"
    )
    filename = f"{task_id(i).lower()} - {_title_for_filename(title)}.md"
    return filename, content


def make_backlog_project(
    root: Path, n_tasks: int, *, commit: bool = False, created: str | None = None
) -> None:
    """Writes a Backlog.md project with `n_tasks` "To Do" tasks (the DAG of `deps_of`) into the git repo at
    `root`; `created` is the 'YYYY-MM-DD HH:MM' UTC stamp (default: now), `commit` commits the files."""
    if not (root / ".git").exists():
        raise RuntimeError(f"{root} is not a git repository")
    if created is None:
        created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    backlog_dir = root / "backlog"
    for sub in BACKLOG_SUBDIRS:
        (backlog_dir / sub).mkdir(parents=True, exist_ok=True)
    (backlog_dir / "config.yml").write_text(backlog_config(root.name or "bench"), encoding="utf-8")
    tasks_dir = backlog_dir / "tasks"
    for i in range(n_tasks):
        filename, content = backlog_task(i, created)
        (tasks_dir / filename).write_text(content, encoding="utf-8")
    if commit:
        env = git_env()
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(root), "commit", "-qm", "backlog fixture"], check=True, env=env)


_LISTED_ID = re.compile(rf"^\s*{TASK_PREFIX.upper()}-(\d+) - ", re.MULTILINE)


def _count_tasks(root: Path) -> int:
    return sum(1 for p in (root / "backlog" / "tasks").glob(f"{TASK_PREFIX}-*.md"))


def time_backlog_list(backlog: Path, root: Path, repeat: int = 5, *, home: Path | None = None) -> list[float]:
    """Wall seconds of `backlog task list --plain` in `root`, `repeat` times after one warm-up; raises
    RuntimeError unless each run exits 0 and lists every task id 1..n exactly once."""
    n = _count_tasks(root)
    expected = set(range(1, n + 1))
    env = git_env(home)
    cmd = [str(backlog), "task", "list", "--plain"]
    times: list[float] = []
    for run in range(repeat + 1):
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, check=False, cwd=root, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"`backlog task list --plain` exited {proc.returncode}: {proc.stderr.strip()}")
        listed = [int(m) for m in _LISTED_ID.findall(proc.stdout)]
        if len(listed) != n or set(listed) != expected:
            raise RuntimeError(f"`backlog task list --plain` listed {len(listed)} task ids, expected {n}")
        if run > 0:
            times.append(elapsed)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `backlog task list --plain` on N Backlog.md tasks.")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parent / ".cache")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--npm-launcher", action="store_true", help="time npm's Node launcher instead")
    args = parser.parse_args(argv)

    backlog = install_backlog(args.cache, native=not args.npm_launcher)
    print(f"backlog {backlog_version(backlog)}: {backlog}")
    with tempfile.TemporaryDirectory(prefix="backlog-bench-") as tmp:
        root = Path(tmp) / "repo"
        home = Path(tmp) / "home"  # a throwaway HOME so nothing lasting lands in the real one
        root.mkdir()
        home.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], check=True, env=git_env(home))
        make_backlog_project(root, args.tasks, commit=True)
        times = time_backlog_list(backlog, root, args.repeat, home=home)
    print(f"backlog task list --plain, {args.tasks} tasks, {len(times)} runs:")
    print(f"  median {statistics.median(times):.3f}s  min {min(times):.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
