"""A regular (non-editable) install of agents built from a checkout, for the benches to time what users
get: the dev .venv is an editable install, whose import finder alone costs about 22 ms at every start.

`wheel_install(checkout)` builds the checkout's wheel (`pip wheel`, no network: setuptools and wheel are
in the test extras), makes a virtual environment whose site-packages are hard links to this venv's (its
dependencies, less the editable finder and setuptools' start-up hook), installs the wheel there without
dependencies (as `pipx install .` would, byte-compiled), and returns its `agents`.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

# What an editable install and setuptools leave in site-packages that a user's install has not.
NOT_COPIED = ("__editable__", "_distutils_hack", "distutils-precedence.pth", "git_agentfiles-",
              "agentfiles")


def wheel_install(checkout: Path, into: Path | None = None) -> Path:
    """The `agents` of a fresh non-editable install of `checkout` (a source tree with pyproject.toml)."""
    checkout = checkout.resolve()
    if into is None:  # a temporary install: removed when the bench ends (about 280 MB each)
        into = Path(tempfile.mkdtemp(prefix="agents-wheel-"))
        atexit.register(shutil.rmtree, into, ignore_errors=True)
    wheels, source = into / "wheels", into / "source"
    # Built from a copy: setuptools leaves build/ and *.egg-info in the tree it builds, and reuses a build/
    # it finds there (a stale one could hold modules the checkout no longer has).
    shutil.copytree(checkout, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".cache", "node_modules", ".*_cache"))
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "wheel", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(source)], check=True,
                   stdout=subprocess.DEVNULL)
    venv = into / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    here = Path(sysconfig.get_paths()["purelib"])
    there = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                 "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip())
    for entry in os.scandir(here):
        if entry.name.startswith(NOT_COPIED) or re.split(r"[-.]", entry.name)[0] in ("pip", "setuptools", "wheel"):
            continue
        target = there / entry.name
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, target, copy_function=os.link, symlinks=True)
        else:
            os.link(entry.path, target)
    wheel = next(wheels.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "--python",
                    str(venv / "bin" / "python"), "install", "--no-deps", "--compile", str(wheel)], check=True,
                   stdout=subprocess.DEVNULL)
    agents = venv / "bin" / "agents"
    if not agents.exists():
        raise SystemExit(f"installing {wheel.name} made no {agents}")
    return agents


def resolve(spec: str) -> str:
    """An `--agents` argument: a path to an `agents` executable, or `wheel:CHECKOUT` for a regular install
    built from that checkout (`wheel:.` for this one)."""
    if spec.startswith("wheel:"):
        return str(wheel_install(Path(spec[len("wheel:"):] or ".")))
    return spec
