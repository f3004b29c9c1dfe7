"""Small file-system primitives shared by storage: atomic replacement, listing convention files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

SKIPPED_NAMES = frozenset({"README.md", "readme.md"})


def atomic_write(path: Path, data: str | bytes, *, sync: bool = True, make_folders: bool = True) -> None:
    """Replace `path` with `data` so that readers see the old file or the new one, never a part. Without
    `sync` the data is not forced to disk first: for caches, which a crash may lose but never corrupt
    (a reader that finds one empty or cut short rebuilds it). Without `make_folders`, a missing folder is
    FileNotFoundError."""
    if make_folders:
        path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a write to the descriptor names no file: say which one it was
        raise


def markdown_names(folder: Path) -> list[str]:
    """The `*.md` file names directly in `folder`, sorted; dotfiles, `_`-files and READMEs are not
    convention files."""
    return markdown_listing(folder)[0]


def markdown_listing(folder: Path) -> tuple[list[str], list[str], bool]:
    """`markdown_names`, the names ending in `.md` that are not files (a folder named `x.md`), and
    whether `folder` exists but is not a folder: what a loader must report instead of skipping."""
    names: list[str] = []
    odd: list[str] = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                name = e.name
                if not name.endswith(".md") or name.startswith((".", "_")) or name in SKIPPED_NAMES:
                    continue
                (names if e.is_file() else odd).append(name)
    except FileNotFoundError:
        return [], [], False
    except NotADirectoryError:
        return [], [], True
    names.sort()
    odd.sort()
    return names, odd, False


def text_reader(folder: Path, missing_ok: bool = False) -> Callable[[str], str]:
    """`read(rel)`: a file of `folder` as text (undecodable bytes replaced), as a step's context reads
    its inputs; with `missing_ok`, a missing file reads as empty (previews of steps not run yet)."""

    def read(rel: str) -> str:
        path = folder / rel
        if missing_ok and not path.is_file():
            return ""
        return path.read_text(encoding="utf-8", errors="replace")

    return read
