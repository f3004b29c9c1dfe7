"""Operating-system isolation of every process a step starts (command steps, `run:` checks, Claude Code):
on Linux through bubblewrap, in new mount, pid, ipc, uts (and, unless allowed, net) namespaces, seeing
only its sandbox (read-write), the system's toolchain (read-only), a private /tmp and HOME, and nothing of
the repository, the user's home or the runner's processes and environment. Where bubblewrap is missing,
steps run with folder isolation (a clean folder, the same environment scrubbing, no jail)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from agentfiles.core.records import record
from agentfiles.errors import PreconditionError

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install "
    "bubblewrap`), or set `isolation: folder` to run steps in a plain folder"
)
SANDBOX_HOME = "/tmp/home"  # HOME inside the OS sandbox: private, empty, gone with the step

# The system's toolchain, read-only: /usr (and the links merged-/usr systems keep at the top), and the
# few files of /etc that programs need to run, resolve names and verify TLS; not /etc as a whole.
SYSTEM_DIRS = ("/usr", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix/store")
SYSTEM_ETC = (
    "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/pki",
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
    "/etc/passwd", "/etc/group", "/etc/localtime", "/etc/timezone", "/etc/ld.so.cache", "/etc/ld.so.conf",
    "/etc/ld.so.conf.d", "/etc/mime.types", "/etc/os-release", "/etc/protocols", "/etc/services",
    "/etc/locale.alias", "/etc/xdg", "/etc/fonts",
)


@dataclass(frozen=True)
class Isolation:
    """How a step's processes are confined: `os` (bubblewrap) or `folder`; part of a step's request."""

    mode: str = "folder"  # os | folder
    network: bool = False
    toolchain: tuple[str, ...] = ()  # absolute paths mounted read-only besides the system's toolchain
    hide: tuple[str, ...] = ()  # paths kept invisible even inside a toolchain path (the repository)

    def to_json(self) -> dict[str, object]:
        return {"mode": self.mode, "network": self.network, "toolchain": list(self.toolchain)}


@record
class Mounts:
    """Extra things one confined process needs (Claude Code: its program and its credentials)."""

    read_only: list[str] = field(default_factory=list)  # host paths, mounted at the same place
    files: dict[str, str] = field(default_factory=dict)  # path inside -> host file, read-only
    hide: list[str] = field(default_factory=list)  # paths that must stay invisible even under a mount
    protect: list[str] = field(default_factory=list)  # files of the sandbox (relative) it may read, not change


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def start_probe() -> None:
    """Start finding out whether the OS sandbox works here, without waiting: a run calls this as it starts,
    so that the probe (a confined process, 10-20 ms) overlaps its planning; `choose_mode` takes its answer."""
    bwrap = bwrap_path() if sys.platform.startswith("linux") else None
    if bwrap is not None:
        _probe(bwrap)


def os_sandbox_works(bwrap: str) -> str | None:
    """None when `bwrap` can start a confined process here, else why not (user namespaces disabled, a
    container without the privileges, ...). Asked once per process."""
    probe = _probe(bwrap)
    with _PROBES_LOCK:
        if bwrap not in _ANSWERS:
            _ANSWERS[bwrap] = _answer(probe)
        return _ANSWERS[bwrap]


_PROBES: dict[str, subprocess.Popen[bytes] | str] = {}  # bwrap -> its probe, or why it could not start
_ANSWERS: dict[str, str | None] = {}
_PROBES_LOCK = threading.Lock()


def _probe(bwrap: str) -> subprocess.Popen[bytes] | str:
    with _PROBES_LOCK:
        if bwrap not in _PROBES:
            try:
                _PROBES[bwrap] = subprocess.Popen(
                    [bwrap, *_base_args(Isolation("os"), Mounts()), "--", "/bin/sh", "-c", "exit 0"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    env={"PATH": "/usr/bin:/bin"},
                )
            except OSError as exc:
                _PROBES[bwrap] = str(exc)
        return _PROBES[bwrap]


def _answer(probe: subprocess.Popen[bytes] | str) -> str | None:
    if isinstance(probe, str):
        return probe
    try:
        _, stderr = probe.communicate(timeout=20)
    except subprocess.TimeoutExpired as exc:
        probe.kill()
        probe.communicate()
        return str(exc)
    if probe.returncode != 0:
        return stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0] if stderr.strip() else (
            f"bwrap exited {probe.returncode}")
    return None


def choose_mode(requested: str) -> tuple[str, str | None]:
    """The isolation a step gets for `isolation: auto | os | folder`, and a note when `auto` falls back
    to folder isolation (said once per run). `os` without a working bubblewrap is an error."""
    if requested == "folder":
        return "folder", None
    bwrap = bwrap_path() if sys.platform.startswith("linux") else None
    problem = "bubblewrap (bwrap) is not installed" if bwrap is None else os_sandbox_works(bwrap)
    if sys.platform == "darwin":
        problem = "the OS sandbox is not available on macOS yet"
    if problem is None:
        return "os", None
    if requested == "os":
        raise PreconditionError(f"`isolation: os` is set, and the OS sandbox cannot run: {problem}", hint=INSTALL_HINT)
    return "folder", (
        f"steps run with folder isolation ({problem}): a step's commands can read and write outside its "
        f"sandbox; {INSTALL_HINT.split(', or ')[0]} for OS isolation"
    )


def interpreter_paths() -> list[str]:
    """The interpreter running agents (and its virtual environment), so `$AGENTS_PYTHON` works inside."""
    paths = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), os.path.realpath(sys.exec_prefix)}
    executable = os.path.realpath(sys.executable)
    if not any(executable.startswith(p + os.sep) for p in paths):
        paths.add(os.path.dirname(executable))
    return sorted(paths)


def confine(argv: list[str], sandbox: Path, isolation: Isolation, mounts: Mounts | None = None) -> list[str]:
    """`argv` wrapped to run inside the OS sandbox: `sandbox` read-write at its own path and the working
    folder, the toolchain read-only, a private /tmp and HOME, new namespaces; nothing outlives it."""
    bwrap = bwrap_path()
    if bwrap is None:  # choose_mode said "os": bubblewrap went away since
        raise PreconditionError("bubblewrap (bwrap) is no longer on PATH", hint=INSTALL_HINT)
    mounts = mounts or Mounts()
    hidden = [os.path.realpath(p) for p in (*isolation.hide, *mounts.hide)]
    under_etc = [p for p in (*isolation.toolchain, *mounts.read_only, *mounts.files, *hidden) if p.startswith("/etc/")]
    views = None if under_etc else views_folder(sandbox)  # bubblewrap cannot make a mount's place in the view
    etc = etc_view(views) if views is not None else None
    args = [bwrap, *_base_args(isolation, mounts, etc)]
    real = os.path.realpath(sandbox)
    for path in hidden:  # a toolchain path holding the repository (a venv's parent, /usr/src/...) shows nothing of it
        if any(path == m or path.startswith(m.rstrip("/") + "/") for m in _mounted(isolation, mounts)):
            args += ["--tmpfs", path]
    args += ["--bind", real, real, "--chdir", real]
    for rel in mounts.protect:  # over the sandbox: read-only, and a mount point cannot be removed or renamed
        inside = os.path.join(real, rel)
        args += ["--ro-bind", inside, inside]
    if real != str(sandbox):
        args += ["--symlink", real, str(sandbox)]
    return [*args, "--", *argv]


def confined_env(env: dict[str, str]) -> dict[str, str]:
    """A step's environment as seen inside the OS sandbox: its own HOME and /tmp; nothing that points
    into the user's home or sessions."""
    dropped = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
               "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "DBUS_SESSION_BUS_ADDRESS", "PWD", "OLDPWD")
    confined = {k: v for k, v in env.items() if k not in dropped}
    confined.update(HOME=SANDBOX_HOME, TMPDIR="/tmp")
    return confined


def _mounted(isolation: Isolation, mounts: Mounts) -> list[str]:
    return [*SYSTEM_DIRS, *interpreter_paths(), *isolation.toolchain, *mounts.read_only]


def etc_view(folder: Path) -> tuple[str, list[str]]:
    """The sandbox's /etc: a view in `folder` holding copies of the files of SYSTEM_ETC, their symlinks that
    lead into the toolchain, and an empty folder for each of its folders, which are mounted there. Returns
    (the view, the folders to mount over it). One mount of the view instead of one per file: mounts take a
    lock the kernel holds for every namespace's mounts, so eight steps starting at once waited on each
    other's 23 mounts of /etc (eight bubblewraps at once: 55 ms with them, 32 ms with the view; one alone
    8.3 -> 5.9 ms).

    A run's steps share one view in its sandbox folder (made in 2.5 ms, removed with that folder at the end
    of the run); its name carries the size, time and inode of each entry, so a change to /etc meanwhile
    makes a new one."""
    marks = []
    for path in SYSTEM_ETC:
        try:
            info = os.stat(path)
        except OSError:
            continue
        marks.append(f"{path}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}:{info.st_mode}")
    view = folder / f"etc-{hashlib.sha256(chr(10).join(marks).encode()).hexdigest()[:16]}"
    known = _VIEWS.get(view)
    if known is not None and os.path.isdir(view):
        return known
    with _MAKING:  # the steps of a run start together: one makes the view, the others wait for it
        known = _VIEWS.get(view)
        if known is not None and os.path.isdir(view):
            return known
        if not _ours(view):
            _make_view(view)
        folders = sorted("/etc/" + e.name for e in os.scandir(view) if e.is_dir(follow_symlinks=False)
                         and f"/etc/{e.name}" in SYSTEM_ETC)
        _VIEWS[view] = (str(view), folders)
        return _VIEWS[view]


def views_folder(sandbox: Path) -> Path | None:
    """Where the /etc view of a step's sandbox is made: a run's folder of sandboxes (executors/sandbox.py's
    `sandbox_home`, holding `step-*/work`), shared by its steps and removed at the run's end; else the
    `agents-*` folder holding the sandbox (a replay's, a conversation's), removed with it. Anywhere else
    (the temporary folder itself, say) nothing would remove it: None, and /etc is shown file by file."""
    step = sandbox.parent
    if step.name.startswith("step-") and step.parent.name.startswith("agents-"):
        return step.parent
    return step if step.name.startswith("agents-") else None


_VIEWS: dict[Path, tuple[str, list[str]]] = {}
_MAKING = threading.Lock()


def _ours(view: Path) -> bool:
    """Whether `view` is a folder this user made (in the shared temporary folder: another user's is refused)."""
    try:
        info = os.lstat(view)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PreconditionError(f"{view} is not a folder of yours that only you can change",
                                hint="remove it; agents makes it again")
    return True


def _make_view(view: Path) -> None:
    making = Path(tempfile.mkdtemp(prefix=view.name + ".", dir=view.parent))
    toolchain = tuple(os.path.realpath(p) + "/" for p in SYSTEM_DIRS if os.path.isdir(p))
    for path in SYSTEM_ETC:
        name = making / path.removeprefix("/etc/")
        real = os.path.realpath(path)
        if os.path.islink(path) and real.startswith(toolchain) and os.path.exists(real):
            os.symlink(os.readlink(path), name)  # resolves inside the sandbox as outside
        elif os.path.isdir(real):
            name.mkdir()  # where the folder is mounted
        elif os.path.isfile(real):
            try:
                shutil.copy(real, name)  # with its mode: a file only some may read stays so
            except OSError:
                continue  # unreadable here: not readable inside either
    making.chmod(0o755)
    try:
        os.rename(making, view)
    except OSError:  # made meanwhile by another process: keep that one
        shutil.rmtree(making, ignore_errors=True)
        _ours(view)


def _base_args(isolation: Isolation, mounts: Mounts, etc: tuple[str, list[str]] | None = None) -> list[str]:
    args = [
        "--unshare-all", *(["--share-net"] if isolation.network else []),
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", SANDBOX_HOME,
    ]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    if etc is not None:
        args += ["--ro-bind", etc[0], "/etc"]
        for path in etc[1]:
            args += ["--ro-bind", path, path]
    else:  # the probe: no folder to make a view in
        for path in SYSTEM_ETC:
            if os.path.lexists(path):
                args += ["--ro-bind-try", path, path]
    for path in [*interpreter_paths(), *isolation.toolchain, *mounts.read_only]:
        if os.path.exists(path) and not any(path == d or path.startswith(d + "/") for d in SYSTEM_DIRS):
            args += ["--ro-bind", path, path]
    for inside, host in mounts.files.items():
        args += ["--ro-bind", host, inside]
    return args

