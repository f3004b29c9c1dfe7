"""A batch of step commits in a fixed number of git calls, whatever their number: the runner lands every step
that finished while another landed together, one commit each (runner/land.py)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from agentfiles.errors import GitError

if TYPE_CHECKING:
    from agentfiles.storage.git import Git

SCRATCH_REF = "refs/agents/landing"  # where fast-import builds a batch of step commits before HEAD moves to them


class HeadMoved(GitError):
    """HEAD no longer points where agents left it (someone else, or a step's process, moved it)."""

    def __init__(self, before: str | None, after: str | None, ref: str | None) -> None:
        self.before, self.after, self.ref = before, after, ref
        super().__init__(f"HEAD{f' ({ref})' if ref else ''} moved from {(before or 'no commit')[:10]} to "
                         f"{(after or 'no commit')[:10]}, not by agents",
                         hint="see what moved it with `git reflog`; run again once HEAD is where you want it")


def commit_batch(git: Git, commits: list[tuple[list[str], str]]) -> list[str]:
    """Commit each (paths, message) in turn on top of HEAD, one commit each, as `commit_paths` does,
    in a fixed number of git calls whatever their number: the files' blobs in one `hash-object`
    (with the repository's filters), the commits in one `fast-import` onto a scratch ref, then HEAD
    moved to the last with one atomic update-ref that refuses if HEAD moved meanwhile (so a kill
    leaves all of them or none), and the user's index synced for all their paths at once. The commits
    go on HEAD as agents last left it (`Git.pin`): if anyone else moved it since, nothing lands and
    HeadMoved is raised (a commit agents does not know of would be built upon)."""
    git.landed = None
    git.index_synced = True
    paths = sorted({rel for files, _ in commits for rel in files})
    present = [rel for rel in paths if os.path.lexists(git.root / rel)]  # the others a step deleted
    out = git.run("hash-object", "-w", "--stdin-paths", input="".join(f"{_quoted(p)}\n" for p in present).encode()).stdout
    blobs = dict(zip(present, out.decode().split()))
    modes = {rel: "100755" if os.lstat(git.root / rel).st_mode & 0o100 else "100644" for rel in present}
    author, committer = identity(git)
    parent, ref = git._tip()
    for attempt in (1, 2):
        marks = os.path.join(git._scratch(), "marks")
        stream = [f"reset {SCRATCH_REF}\n" + (f"from {parent}\n" if parent else "") + "\n"]
        for number, (files, message) in enumerate(commits, 1):
            text = message.encode("utf-8")
            stream.append(f"commit {SCRATCH_REF}\nmark :{number}\nauthor {author}\ncommitter {committer}\n"
                          f"data {len(text)}\n")
            stream.append(text)
            stream.append("\n" + "".join(f"M {modes[rel]} {blobs[rel]} {_quoted(rel)}\n" if rel in blobs
                                          else f"D {_quoted(rel)}\n" for rel in sorted(files)) + "\n")
        stream.append("done\n")
        data = b"".join(part if isinstance(part, bytes) else part.encode("utf-8") for part in stream)
        # --force: the scratch ref may still hold a batch that never landed (a kill, a full disk)
        git.run("fast-import", "--quiet", "--force", "--done", f"--export-marks={marks}", input=data)
        with open(marks, encoding="utf-8") as handle:
            made = dict(line.split() for line in handle if line.strip())
        shas = [made[f":{n}"] for n in range(1, len(commits) + 1)]
        # HEAD itself (through the branch it is on): a step that switched it to another branch elsewhere is refused too
        moves = (f"update HEAD {shas[-1]} {parent}\n" if parent else f"create HEAD {shas[-1]}\n") + f"delete {SCRATCH_REF}\n"
        done = git.run("update-ref", "-m", "agents: step commit", "--stdin", input=moves.encode(), check=False)
        if done.returncode == 0:
            git.landed = shas[-1]
            git._state = (shas[-1], ref)
            git._index_base = "unknown"  # the private index of commit_paths no longer holds HEAD's tree
            git.index_synced = git._sync_index_waiting(paths)
            return shas
        git.run("update-ref", "-d", SCRATCH_REF, check=False)
        now = git.head()
        if now != parent:
            raise HeadMoved(parent, now, git.branch_ref())
        if attempt == 2:  # HEAD is where it was: another git process held its lock
            text = done.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"git update-ref failed: {text}", hint="another process is committing; run again")
    raise AssertionError("unreachable")


def identity(git: Git) -> tuple[str, str]:
    """The author and committer lines of a commit made now (`agents` when git has no identity); who
    they are is asked of git once, the time is now unless the environment sets it."""
    if git._ident is None or "GIT_AUTHOR_DATE" in os.environ or "GIT_COMMITTER_DATE" in os.environ:
        found = []
        for kind in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            done = git.run("var", kind, check=False)
            ident = done.stdout.decode("utf-8", "replace").strip()
            found.append(ident if done.returncode == 0 and ident else f"agents <agents@localhost> {int(time.time())} +0000")
        git._ident = (found[0], found[1])
        return git._ident
    offset = time.localtime().tm_gmtoff // 60
    when = f"{int(time.time())} {'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    author, committer = (ident.rsplit(" ", 2)[0] for ident in git._ident)
    return f"{author} {when}", f"{committer} {when}"


def _quoted(rel: str) -> str:
    """A path as fast-import and `--stdin-paths` read it on a line: C-quoted when it starts with a quote."""
    if not rel.startswith('"') and "\n" not in rel:
        return rel
    return '"' + rel.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
