"""Packaging and start-up: what the wheel holds, which modules each command imports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import ROOT, git, make_repo, run_program, task_text, write_files

PROBE = textwrap.dedent(
    """
    import sys
    from agentfiles.commands.app import run
    code = run(sys.argv[1:])
    heavy = sorted(m for m in ("anthropic", "git", "pydantic", "yaml", "typer", "rich", "numpy", "tokenizers",
                               "safetensors", "agentfiles.route", "dask", "distributed", "agentfiles.runner.cluster",
                               "agentfiles.storage.documents", "agentfiles.runner.resolve")
                   if m in sys.modules)
    print("MODULES", ",".join(heavy), "CODE", code)
    """
)


def loaded_modules(*args: str, cwd: Path) -> tuple[set[str], int]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("MODULES")][-1]
    _, modules, _, code = line.split(" ")
    return set(filter(None, modules.split(","))), int(code)


def test_version_imports_nothing_heavy() -> None:
    code = "import sys; from agentfiles.entry import main\ntry:\n main(['--version'])\nexcept SystemExit: pass\nprint(sorted(m for m in ('typer','pydantic','yaml','anthropic','git') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture
def warm_project(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "warm", {"data/in.txt": "x\n"})
    subprocess.run([sys.executable, "-m", "agentfiles", "-C", str(repo), "init"], check=True, capture_output=True)
    write_files(repo, {".agents/tasks/t.md": task_text("T", run="true", inputs=["data/in.txt"], outputs=["o.txt"])})
    old = time.time() - 60  # older than the caches' racy window, as files edited a while ago are
    for path in repo.rglob("*"):
        if ".git" not in path.parts:
            os.utime(path, (old, old))
    return repo


def test_a_run_without_model_steps_never_imports_the_sdk(warm_project: Path) -> None:
    (warm_project / ".agents/tasks/describe-project.md").unlink()  # the starter task is a model step
    git(warm_project, "add", "-A")
    git(warm_project, "commit", "-qm", "tasks")
    (warm_project / ".agents/tasks/t.md").write_text(task_text("T", run="echo hi > o.txt", inputs=["data/in.txt"],
                                                               outputs=["o.txt"]))
    git(warm_project, "commit", "-qam", "make o.txt")
    modules, code = loaded_modules("run", cwd=warm_project)
    assert code == 0 and "anthropic" not in modules
    # nor a model step's tools and context (10 ms): checking a role's `tools:` needs only their names
    assert not modules & {"agentfiles.core.tools", "agentfiles.core.context"}


def test_a_run_with_model_steps_imports_the_sdk_while_it_plans(warm_project: Path) -> None:
    """A model step's run starts loading the SDK in the background as soon as its plan is known; a key
    or base URL that cannot work still stops it before any step."""
    write_files(warm_project, {".agents/tasks/m.md": task_text("M", role="developer", outputs=["m.txt"])})
    git(warm_project, "add", "-A")
    git(warm_project, "commit", "-qm", "tasks")
    probe = PROBE.replace("code = run(sys.argv[1:])", "code = run(sys.argv[1:])\nimport threading\n"
                          "[t.join() for t in threading.enumerate() if t.name == 'agents-sdk-import']")
    done = subprocess.run([sys.executable, "-c", probe, "run", "m"], cwd=warm_project, capture_output=True, text=True,
                          env={**os.environ, "ANTHROPIC_BASE_URL": "ftp://nowhere"})
    assert "error: ANTHROPIC_BASE_URL is not an http(s) URL" in done.stderr and "hint:" in done.stderr
    assert "CODE 2" in done.stdout
    assert git(warm_project, "log", "-1", "--format=%s").strip() == "tasks"  # nothing ran


@pytest.mark.parametrize("args", [["--help"], ["validate"], ["status"], ["status", "--json"], ["graph"], ["roles"],
                                  ["route", "--intent", "data in", "--json"]])
def test_read_commands_import_neither_anthropic_nor_gitpython(warm_project: Path, args: list[str]) -> None:
    modules, code = loaded_modules(*args, cwd=warm_project)
    assert code == 0
    assert "anthropic" not in modules and "git" not in modules


@pytest.mark.parametrize("args", [["--help"], ["validate"], ["status"], ["graph"], ["roles"]])
def test_read_commands_import_nothing_of_routing(warm_project: Path, args: list[str]) -> None:
    modules, code = loaded_modules(*args, cwd=warm_project)
    assert code == 0
    assert not modules & {"agentfiles.route", "numpy", "tokenizers", "safetensors"}, modules


@pytest.mark.parametrize("args", [["--help"], ["validate"], ["status"], ["graph"], ["roles"], ["run", "t"]])
def test_only_a_cluster_run_imports_dask(warm_project: Path, args: list[str]) -> None:
    write_files(warm_project, {".agents/tasks/t.md": task_text("T", run="echo x > o.txt", outputs=["o.txt"])})
    modules, code = loaded_modules(*args, cwd=warm_project)
    assert code == 0
    assert not modules & {"dask", "distributed", "agentfiles.runner.cluster"}, args


def test_warm_status_needs_neither_yaml_nor_pydantic(warm_project: Path) -> None:
    first, _ = loaded_modules("status", cwd=warm_project)
    assert "agentfiles.storage.documents" in first  # the first run parses the files and writes the index
    assert "yaml" not in first  # ... and a starter project's files all take the compiled path
    second, code = loaded_modules("status", cwd=warm_project)
    assert code == 0 and not second & {"yaml", "pydantic", "agentfiles.storage.documents"}
    # A changed task file is noticed: the index is bypassed and the change shows.
    path = warm_project / ".agents/tasks/t.md"
    path.write_text(path.read_text().replace("title: T", "title: T2"))
    third, _ = loaded_modules("status", cwd=warm_project)
    assert "agentfiles.storage.documents" in third


def test_a_status_after_an_edit_sizes_no_context_of_a_command_step(warm_project: Path) -> None:
    """Stale or ready command steps have no model context to hold to a budget: a status after an edit of a
    task early in a chain of them neither loads the whole project to size contexts (1.9 s at 10,000 tasks
    once) nor records their sizes; a model step among them still has its context sized."""
    (warm_project / ".agents/tasks/describe-project.md").unlink()  # the starter task is a model step
    write_files(warm_project, {
        ".agents/tasks/t.md": task_text("T", run="cp data/in.txt o.txt", inputs=["data/in.txt"], outputs=["o.txt"]),
        ".agents/tasks/u.md": task_text("U", run="cp o.txt p.txt", needs=["t"], inputs=["o.txt"], outputs=["p.txt"]),
    })
    git(warm_project, "add", "-A")
    git(warm_project, "commit", "-qm", "tasks")
    assert run_program("run", cwd=warm_project).code == 0
    path = warm_project / ".agents/tasks/t.md"
    path.write_text(path.read_text().replace("title: T", "title: T2"))
    modules, code = loaded_modules("status", cwd=warm_project)
    assert code == 0 and "agentfiles.runner.resolve" not in modules
    assert "stale" in run_program("status", cwd=warm_project).out
    contexts = warm_project / ".agents/cache/contexts.json"
    assert not contexts.exists() or '"t"' not in contexts.read_text()
    write_files(warm_project, {".agents/tasks/m.md": task_text("M", role="developer", outputs=["m.txt"])})
    modules, code = loaded_modules("status", cwd=warm_project)
    assert code == 0 and "agentfiles.runner.resolve" in modules  # a model step's context is still sized


def test_valid_documents_are_read_without_pydantic(warm_project: Path) -> None:
    """Valid tasks, roles, config and handoffs are read by msgspec (core/schema.py): a run, a cold status and
    validate never import pydantic. A broken file does, and its message still names the file and line."""
    import shutil

    write_files(warm_project, {".agents/tasks/t.md": task_text("T", run="echo x > o.txt", outputs=["o.txt"], retries=1)})
    git(warm_project, "add", "-A")
    git(warm_project, "commit", "-qm", "tasks")
    for args in (["run", "t"], ["status"], ["validate"], ["status", "--json"]):
        shutil.rmtree(warm_project / ".agents/cache", ignore_errors=True)  # cold: every file parsed
        modules, code = loaded_modules(*args, cwd=warm_project)
        assert code == 0 and "pydantic" not in modules, args
    assert (warm_project / ".agents/handoffs/t.md").is_file()  # the status and validate above read it
    path = warm_project / ".agents/tasks/t.md"
    path.write_text(path.read_text().replace("retries: 1", "retries: often"))
    done = subprocess.run([sys.executable, "-c", PROBE, "validate"], cwd=warm_project, capture_output=True, text=True)
    modules, code = loaded_modules("validate", cwd=warm_project)
    assert "pydantic" in modules and code == 2
    line = path.read_text().splitlines().index("retries: often") + 1
    assert f"error: .agents/tasks/t.md:{line}: retries: input should be a valid integer" in done.stderr


def test_core_imports_neither_typer_nor_anthropic() -> None:
    code = (
        "import sys, pkgutil, importlib, agentfiles.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__): importlib.import_module('agentfiles.core.' + m.name)\n"
        "print(sorted(m for m in ('typer','rich','anthropic','git','httpx') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_pyproject_lists_every_package() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    templates = {"agentfiles.templates"} | {
        f"agentfiles.templates.{p.name}" for p in (ROOT / "templates").iterdir() if p.is_dir() and p.name != "__pycache__"
    }
    # A folder of data files (the report's static/) is a package too, or setuptools leaves it out with a warning.
    found = templates | {
        "agentfiles" + ("." + ".".join(p.relative_to(ROOT / "cli/agentfiles").parts) if p != ROOT / "cli/agentfiles" else "")
        for p in (ROOT / "cli/agentfiles").rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(f.is_file() for f in p.iterdir())
    } | {"agentfiles"}
    assert listed == found


def test_wheel_installs_and_runs_init(tmp_path: Path) -> None:
    """Build the wheel, install it alone into a fresh virtual environment, run `agents init` from it. The
    distribution is `git-agentfiles` (`agentfiles` on the package index is another tool) and its one
    console script is `agents`."""
    import zipfile

    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith("git_agentfiles-")
    with zipfile.ZipFile(wheel) as archive:
        info = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{info}/METADATA").decode()
        scripts = archive.read(f"{info}/entry_points.txt").decode()
        top = archive.read(f"{info}/top_level.txt").decode().split() if f"{info}/top_level.txt" in archive.namelist() else []
    assert "\nName: git-agentfiles\n" in metadata
    assert [line.strip() for line in scripts.splitlines() if line.strip()] == [
        "[console_scripts]", "agents = agentfiles.entry:main"]
    assert top in ([], ["agentfiles"])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # Dependencies come from this environment's site-packages, appended after the venv's own (so the
    # wheel's agentfiles wins over any editable install here).
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    here = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "zz_deps.pth").write_text("\n".join(here) + "\n")
    repo = make_repo(tmp_path / "proj")
    installed = sorted(p.name for p in (venv / "bin").iterdir() if p.name not in (
        "python", "python3", f"python3.{sys.version_info.minor}", "pip", "pip3", f"pip3.{sys.version_info.minor}")
        and not p.name.startswith(("activate", "Activate")))
    assert installed == ["agents"]  # the wheel adds one command, and no `agentfiles` to clash with the other tool's
    version = subprocess.run([str(venv / "bin" / "agents"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("agents ")
    done = subprocess.run([str(venv / "bin" / "agents"), "init"], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # The report's stylesheet and script ship in the wheel: its site is written from the installed package.
    done = subprocess.run([str(venv / "bin" / "agents"), "report", "--out", str(tmp_path / "site")], cwd=repo,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site/assets/report.css").stat().st_size > 1000
    assert (tmp_path / "site/assets/report.js").stat().st_size > 500
    assert (repo / ".agents/roles/reviewer.md").read_text().startswith("---\nname: reviewer\n")
    where = subprocess.run(
        [str(python), "-c", "import agentfiles, importlib.resources as r; print(agentfiles.__file__); "
         "print(r.files('agentfiles.templates'))"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert all(str(venv) in line for line in where.splitlines())
    checked = subprocess.run([str(venv / "bin" / "agents"), "validate"], cwd=repo, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    git(repo, "status", "--porcelain")


def test_cli_reference_is_current() -> None:
    """docs/cli.md is what the project's own `cli-reference` step generates from --help."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "generate_cli_reference.py")], capture_output=True, text=True, check=True
    )
    assert (ROOT / "docs" / "cli.md").read_text() == done.stdout, "regenerate: python3 docs/generate_cli_reference.py > docs/cli.md"


def test_the_kept_help_is_current() -> None:
    """cli/agentfiles/help_text.py is what the generator renders from the CLI as it is now."""
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "generate_cli_reference.py"), "--help-module"],
                          capture_output=True, text=True, check=True)
    assert (ROOT / "cli" / "agentfiles" / "help_text.py").read_text() == done.stdout, (
        "regenerate: python3 docs/generate_cli_reference.py --help-module > cli/agentfiles/help_text.py"
    )


@pytest.mark.parametrize("width", [60, 79, 80, 81, 99, 100, 101, 160])
@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_prints_what_the_cli_renders_at_every_width(width: int, option: str) -> None:
    """`agents --help` answers from the kept text at the widths it keeps and from the CLI at the others:
    either way it is the CLI's own help for that width, exit 0."""
    env = dict(os.environ, COLUMNS=str(width))
    agents = Path(sys.executable).parent / "agents"
    shown = subprocess.run([str(agents), option], capture_output=True, text=True, env=env)
    rendered = subprocess.run(
        [sys.executable, "-c", "from agentfiles.commands.app import run; run(['--help'])"],
        capture_output=True, text=True, env=env,
    )
    assert shown.returncode == 0 and shown.stderr == ""
    assert shown.stdout == rendered.stdout and shown.stdout.startswith("Usage: agents [OPTIONS] COMMAND")


@pytest.mark.parametrize("where", ["option", "config"])
def test_a_cluster_run_without_dask_says_how_to_install_it(warm_project: Path, where: str) -> None:
    """Dask is the optional extra `git-agentfiles[dask]`: without it, asking for a cluster (by option or
    in the config) stops the run before any step, with the command that installs it."""
    write_files(warm_project, {".agents/tasks/t.md": task_text("T", run="echo x > o.txt", outputs=["o.txt"])})
    args = ["run", "t", "--cluster", "local:2"]
    if where == "config":
        config = warm_project / ".agents/config.yaml"
        config.write_text(config.read_text() + "cluster: local:2\n")
        args = ["run", "t"]
    git(warm_project, "add", "-A")
    git(warm_project, "commit", "-qm", "a cluster run")
    without = "import sys\nsys.modules['dask'] = sys.modules['distributed'] = None  # not installed\n" + PROBE
    done = subprocess.run([sys.executable, "-c", without, *args], cwd=warm_project, capture_output=True, text=True)
    assert "CODE 2" in done.stdout, done.stderr
    asked = "`--cluster local:2`" if where == "option" else "`cluster: local:2` in .agents/config.yaml"
    assert f"error: {asked} needs Dask, which is not installed" in done.stderr
    # git-agentfiles is not on the package index (README): the extra from a clone of the repository, or
    # Dask itself, as pyproject's extra names it, into the environment of the Python running agents.
    hint = done.stderr.split("hint: ", 1)[1]
    assert "git-agentfiles[dask]" not in hint
    assert "`pip install '.[dask]'` in a clone of agents' repository" in hint
    extra = re.search(r'^dask = \["([^"]+)"\]$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert extra is not None and f"`{sys.executable} -m pip install '{extra[1]}'` into the environment" in hint
    assert "Traceback" not in done.stderr and not (warm_project / "o.txt").exists()
    assert git(warm_project, "log", "-1", "--format=%s").strip() == "a cluster run"
