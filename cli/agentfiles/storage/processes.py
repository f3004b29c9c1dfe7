"""The process groups of running steps, written down so that a run killed with SIGKILL (which cannot
clean up after itself) does not leave its steps' commands running: the next run stops them."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a process (tells a PID apart from a later one reusing it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def signalable(pid: int) -> bool:
    """Whether a recorded process group may be stopped: never 0 (our own group) or 1 (killpg(1) signals
    every process the user may signal), nor the group of this process."""
    return pid > 1 and pid != os.getpgrp()


class ProcessRegistry:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, pid: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{pid}.json").write_text(json.dumps({"pid": pid, "start": _start_time(pid)}))

    def remove(self, pid: int) -> None:
        try:
            (self.folder / f"{pid}.json").unlink()
        except FileNotFoundError:
            pass

    def stop_leftovers(self) -> list[int]:
        """Kill the process groups of steps a killed run left running; returns their ids."""
        stopped = []
        if not self.folder.is_dir():
            return stopped
        for entry in self.folder.glob("*.json"):
            try:
                data = json.loads(entry.read_text())
                pid = int(data["pid"])
            except (OSError, ValueError, KeyError):
                entry.unlink(missing_ok=True)
                continue
            if signalable(pid) and data.get("start") is not None and _start_time(pid) == data["start"]:
                try:
                    os.killpg(pid, signal.SIGKILL)
                    stopped.append(pid)
                except (ProcessLookupError, PermissionError):
                    pass
            entry.unlink(missing_ok=True)
        return stopped
