#!/usr/bin/env python3
"""Set-up and chores from a fresh clone, with nothing but python3 and git:

    python3 dev.py demo    run a demo pipeline in a scratch repository
                           ([DIR] [--cluster ADDRESS]: its steps on a Dask cluster, e.g. local:2)
    python3 dev.py example run the worked example of a step that changes code (README)
    python3 dev.py test    run the test suite

Both create `.venv/` on first use and install the project into it (again when pyproject.toml changes).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
MARKER = VENV / ".agentfiles-installed"


def ensure_venv() -> None:
    """Create .venv and install the project with its test extras, unless already done for this pyproject."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if MARKER.exists() and MARKER.read_text() == wanted and (BIN / "agents").exists():
        return
    if not (BIN / "python").exists():
        print(f"dev: creating {VENV.relative_to(ROOT)}/", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("dev: installing agentfiles and its test dependencies (first run only)", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-U", "pip"], check=True)
    # The distribution was called `agentfiles` before it became `git-agentfiles`: a .venv made then keeps
    # that name's entry beside the new one unless it goes first.
    subprocess.run([*pip, "uninstall", "-y", "agentfiles"], check=False, capture_output=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], check=True)
    MARKER.write_text(wanted)


def compile_bytecode() -> None:
    """Byte-compile the package, as installing a wheel does: start-up time then matches a real install
    even where PYTHONDONTWRITEBYTECODE keeps Python from caching it itself."""
    subprocess.run([str(BIN / "python"), "-m", "compileall", "-q", str(ROOT / "cli")], check=False,
                   stdout=subprocess.DEVNULL)


def test(args: list[str]) -> int:
    ensure_venv()
    compile_bytecode()
    return subprocess.run([str(BIN / "python"), "-m", "pytest", *args], cwd=ROOT).returncode


def demo(args: list[str]) -> int:
    cluster = None
    if "--cluster" in args[:-1]:
        at = args.index("--cluster")
        cluster, args = args[at + 1], args[:at] + args[at + 2 :]
    return _scratch_run("pipeline", "run_demo", "agents-demo-", args, cluster=cluster)


def example(args: list[str]) -> int:
    return _scratch_run("coding", "run_example", "agents-example-", args)


def _scratch_run(module: str, function: str, prefix: str, args: list[str], **options: object) -> int:
    """Run demo/<module>.py's `function` in a scratch repository (the folder given, or a new one)."""
    ensure_venv()
    compile_bytecode()
    sys.path.insert(0, str(ROOT / "demo"))
    run = getattr(__import__(module), function)
    target = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix=prefix))
    return run(target, BIN / "agents", **options)


def main() -> int:
    commands = {"test": test, "demo": demo, "example": example}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__.strip())
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
