"""Times the expansion of path inputs (core/fingerprint.expand_path_input: the match, then every match
checked for `.git`, agents' state, names and symlinks) against bare `glob.glob` / `os.walk` listing the
same files in the same run, on a generated tree.

Usage (from the repository, after `python3 dev.py test` made .venv):

    .venv/bin/python bench/expand_bench.py [--folders 50] [--files 50] [--repeat 7]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

from agentfiles.core.fingerprint import expand_path_input


def best(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def walk(root: Path, rel: str) -> list[str]:
    return [os.path.join(folder, name) for folder, _, files in os.walk(root / rel) for name in files]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=50)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agents-expand-") as scratch:
        root = Path(scratch)
        for d in range(args.folders):
            (root / f"src/d{d}/sub").mkdir(parents=True)
            for f in range(args.files):
                (root / f"src/d{d}/sub/f{f}.py").write_text("x")
        cases = [
            ("src/**/*.py", lambda: glob.glob("src/**/*.py", root_dir=root, recursive=True)),
            ("src", lambda: walk(root, "src")),
            ("src/d1/sub/*.py", lambda: glob.glob("src/d1/sub/*.py", root_dir=root)),
        ]
        print(f"{args.folders * args.files} files; best of {args.repeat}")
        for pattern, peer in cases:
            ours = best(lambda p=pattern: expand_path_input(root, p), args.repeat)  # type: ignore[misc]
            theirs = best(peer, args.repeat)
            count = len(expand_path_input(root, pattern))
            print(f"  {pattern:<18} {count:>6} files  expand {ours * 1000:8.1f} ms   bare listing "
                  f"{theirs * 1000:8.1f} ms   ratio {ours / theirs:5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
