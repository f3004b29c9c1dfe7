"""Times `agents route --intent ... --budget 16000 --json` in a generated repository of N Python files
with a history of commits: the first run (index and history built) and warm runs (cached by blob
hash and HEAD), and a warm run after one file is edited (incremental).

    .venv/bin/python bench/route_bench.py [--files 5000] [--commits 300] [--repeat 5]

Prints figures; asserts nothing. Target (issue 7): warm routing under 2 s in a 5,000-file repository.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import git_env  # noqa: E402
from status_bench import AGENTS, row, timed  # noqa: E402

WORDS = ("parse render config option command token cursor page session cache request response header body stream "
         "retry timeout client server route index query filter sort merge split format encode decode buffer file "
         "path user account order price cart item invoice report export import schedule queue worker job").split()


def source(rng: random.Random, module: int, imports: list[int]) -> str:
    lines = [f"from pkg{m // 100}.mod{m} import helper_{m}" for m in imports]
    for number in range(rng.randint(3, 12)):
        a, b = rng.sample(WORDS, 2)
        lines += [f"def {a}_{b}_{number}(value):", f'    """{rng.choice(WORDS)} the {a} of a {b}."""',
                  f"    return value  # {' '.join(rng.sample(WORDS, 6))}", ""]
    lines.append(f"def helper_{module}():\n    return {module}\n")
    return "\n".join(lines)


def make_repo(root: Path, files: int, commits: int) -> None:
    rng = random.Random(11)
    env = git_env()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    for module in range(files):
        path = root / f"pkg{module // 100}" / f"mod{module}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source(rng, module, rng.sample(range(files), 2)))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "Import the code"], cwd=root, check=True, env=env)
    for number in range(commits):
        touched = rng.sample(range(files), rng.randint(1, 4))
        for module in touched:
            path = root / f"pkg{module // 100}" / f"mod{module}.py"
            path.write_text(path.read_text() + f"\n# {' '.join(rng.sample(WORDS, 4))}\n")
        message = f"{rng.choice(WORDS).capitalize()} the {rng.choice(WORDS)} of {rng.choice(WORDS)} ({number})"
        subprocess.run(["git", "commit", "-qam", message], cwd=root, check=True, env=env)
    subprocess.run([str(AGENTS), "init"], cwd=root, check=True, capture_output=True, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agents-route-bench-"))
    try:
        root = folder / "repo"
        make_repo(root, args.files, args.commits)
        command = [str(AGENTS), "route", "--intent", "retry the stream when the session cache times out",
                   "--budget", "16000", "--json"]
        first = timed(command, root, 1, warm_up=False)
        warm = timed(command, root, args.repeat)
        target = root / "pkg0" / "mod1.py"
        edited = []
        for number in range(args.repeat):
            target.write_text(target.read_text() + f"\n# edit {number}\n")
            edited.extend(timed(command, root, 1, warm_up=False))
        print(f"agents route in a repository of {args.files} Python files and {args.commits + 1} commits (2 cores):")
        print(row("first run (index and history built)", first))
        print(row("warm", warm))
        print(row("warm, one file edited since", edited))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
