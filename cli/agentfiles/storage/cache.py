"""A machine-local cache of per-file results (the parsed frontmatter of a full load), keyed by each file's stat
signature, so that a command loading the whole project re-reads only what changed.

It holds plain JSON data only (written with orjson, once per run): whatever it returns is validated
exactly as if the file had been read.
An entry is trusted only while size, mtime, ctime and inode all match; files modified within the last
two seconds are not stored (their timestamp may not yet tell a later edit apart, as git's "racy" files).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

from agentfiles.storage.files import atomic_write

CACHE_VERSION = 3
RACY_WINDOW_NS = 2_000_000_000
Signature = list[int]


def signature(st: os.stat_result) -> Signature:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class StatCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.used: set[str] = set()  # entries asked for or added this run: the others are of files gone
        self.dirty = False
        self.hits = 0
        self.misses = 0
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if isinstance(data, dict) and data.get("version") == CACHE_VERSION and isinstance(data.get("entries"), dict):
            self.entries = data["entries"]

    def get(self, kind: str, rel: str, sig: Signature) -> Any:
        """The cached result of `kind` for `rel` at this signature, or None."""
        key = f"{kind}:{rel}"
        self.used.add(key)
        entry = self.entries.get(key)
        if entry is not None and entry[0] == sig:
            self.hits += 1
            return entry[1]
        self.misses += 1
        return None

    def put(self, kind: str, rel: str, sig: Signature, value: Any) -> None:
        """Remember `value` unless the file is too recently modified or the value is not plain JSON data."""
        if time.time_ns() - sig[1] < RACY_WINDOW_NS:
            return
        try:
            orjson.dumps(value)
        except TypeError:  # e.g. YAML dates: such a file is simply parsed every time
            return
        self.entries[f"{kind}:{rel}"] = [sig, value]
        self.dirty = True

    def save(self, root: Path) -> None:
        """Write the cache if anything was added, keeping the entries this run used (a file gone is never
        asked for); a cache that cannot be written is simply not kept."""
        if self.path is None or not self.dirty:
            return
        kept = {key: entry for key, entry in self.entries.items() if key in self.used}
        try:
            atomic_write(self.path, orjson.dumps({"version": CACHE_VERSION, "entries": kept}), sync=False)
            self.dirty = False
        except OSError:
            pass
