"""The table of malformed repositories test_malformed.py checks: one line (or a few) per case.

Each case changes a copy of one small project (a task `ok` that has run once: its handoff and run record
are there, `{run}` names that run) and says where the error must point (`file:line`, or `file` when
there is no line) and which exit code each verb must end with when it differs from the usual: `validate`
2, `status` 0 (the broken file marked), `run` 2. `show` and `log` are tried where they read the broken
file. What every case must show besides (an `error:` and a `hint:` line, no traceback, nothing changed)
is in test_malformed.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

DIR = object()  # the path becomes an empty folder


@dataclass(frozen=True)
class Link:
    """The path becomes a symlink to `target` (`{outside}` is a file outside the repository)."""

    target: str


@dataclass(frozen=True)
class Edit:
    """The file's text, changed by `change` (applied to the file the project already has)."""

    change: Callable[[str], str]


Change = str | bytes | Link | Edit | object | None  # text, bytes, DIR, a link, an edit, or None: remove


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, Change]
    where: str | None  # `file:line` or `file` the first error names; None: no file is to blame
    codes: dict[str, int] = field(default_factory=dict)  # verb -> exit code, over DEFAULT_CODES
    says: str = ""  # words the error must hold
    mentioned_by: tuple[str, ...] = ("validate", "status", "run")  # verbs whose output names `where`


DEFAULT_CODES = {"validate": 2, "status": 0, "run": 2}
# A damaged handoff: `show` and `review` refuse it, `log` (which reads history) still lists the steps.
HANDOFF_CODES = {"show": 2, "review": 2, "log": 0}
# A damaged run record: the task is still done, so `validate` and `run` have nothing to say; every verb that
# reads the record refuses it.
RECORD_CODES = {"validate": 0, "run": 0, "show": 2, "log": 0, "usage": 2, "review": 2, "replay": 2}
BY_RECORD = ("show", "usage", "review", "replay")

BAD = ".agents/tasks/bad.md"
ROLE = ".agents/roles/broken.md"
FOREIGN = ".claude/agents/broken.md"
HANDOFF = ".agents/handoffs/ok.md"
RECORD = ".agents/runs/{run}/record.json"
CONFIG = ".agents/config.yaml"


def noise(size: int, seed: str) -> bytes:
    """`size` bytes that look random and are the same on every run (not UTF-8 from the first byte)."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}{counter}".encode()).digest()
        counter += 1
    return b"\xff" + out[: size - 1]


def fm(yaml: str, body: str = "## Intent\n\nDo it.\n") -> str:
    """A document whose frontmatter is `yaml` (its first line is line 2 of the file)."""
    return f"---\n{yaml}---\n\n{body}"


def task(key_lines: str) -> dict[str, Change]:
    """A command task `bad` with `key_lines` added to a valid frontmatter (title, run: true, one output)."""
    return {BAD: fm("title: Bad\nrun: 'echo x > out/bad.txt'\noutputs: [out/bad.txt]\n" + key_lines)}


def line(n: int) -> str:
    return f"{BAD}:{n}"


CHECKED = ("validate", "run")  # problems `agents validate` finds beyond reading the file: `status` does not say them

# A command task that has not run, so that `agents run` has something to do.
MORE = {".agents/tasks/more.md": fm("title: More\nrun: 'echo more > out/more.txt'\noutputs: [out/more.txt]\n")}
# A model step whose prose criterion the config's verifier judges.
JUDGED = {".agents/tasks/judged.md": fm("title: Judged\nrole: developer\noutputs: [out/j.txt]\n"
                                        "acceptance: [It is good]\n")}

# A role file the task `uses` names: in .agents/roles/ (errors) or .claude/agents/ (warnings; the task is the error).
USES = {".agents/tasks/uses.md": fm("title: Uses\nrole: broken\noutputs: [out/uses.txt]\nacceptance: [It is written]\n")}


def alias_bomb(key: str, levels: int = 9) -> str:
    """YAML whose aliases expand to 9**levels values under `key` (a few hundred bytes of text)."""
    lines = [f"{key}:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def handoff_edit(old: str, new: str) -> Edit:
    return Edit(lambda text: text.replace(old, new, 1) if old in text else text + "\n(no such text)")


CASES: list[Case] = [
    # ---------------------------------------------------------------- YAML syntax, in a task file
    Case("task YAML: flow sequence never closed", {BAD: fm("title: [unclosed\nrun: 'true'\n")}, line(3), says="YAML"),
    Case("task YAML: flow mapping never closed", {BAD: fm("title: {a: 1\nrun: 'true'\n")}, line(3), says="YAML"),
    Case("task YAML: a second colon in a plain value", {BAD: fm("title: Fix: the bug: now\nrun: 'true'\n")}, line(2),
         says="YAML"),
    Case("task YAML: a tab for indentation", task("needs:\n\t- ok\n"), line(6), says="YAML"),
    Case("task YAML: double quote never closed", {BAD: fm('title: "never closed\nrun: \'true\'\n')}, line(4),
         says="YAML"),
    Case("task YAML: single quote never closed", {BAD: fm("title: 'never closed\nrun: x\n")}, line(4), says="YAML"),
    Case("task YAML: an alias to no anchor", task("retries: *nowhere\n"), line(5), says="YAML"),
    Case("task YAML: a python object tag", task("retries: !!python/object/apply:os.system ['true']\n"), line(5),
         says="YAML"),
    Case("task YAML: a list item out of line", task("needs:\n  - ok\n - other\n"), line(7), says="YAML"),
    Case("task YAML: '@' cannot start a value", {BAD: fm("title: @home\nrun: 'true'\n")}, line(2), says="YAML"),
    Case("task YAML: a backtick cannot start a value", {BAD: fm("title: `x`\nrun: 'true'\n")}, line(2), says="YAML"),
    Case("task YAML: a document end marker inside", task("...\nretries: 1\n"), line(6), says="YAML"),
    Case("task YAML: a NUL character", {BAD: fm("title: a\x00b\nrun: 'true'\n")}, line(2), says="YAML"),
    Case("task YAML: a bell control character", {BAD: fm("title: a\x07b\nrun: 'true'\n")}, line(2), says="YAML"),
    Case("task YAML: a merge key of a scalar", task("<<: 1\n"), line(5), says="for merging"),
    Case("task YAML: duplicate key", task("title: Again\n"), line(5), says="duplicate key 'title'"),
    Case("task YAML: duplicate key inside a mapping", task("budget:\n  usd: 1\n  usd: 2\n"), line(7),
         says="duplicate key 'usd'"),
    Case("task YAML: duplicate key inside a list item", task("inputs:\n  - {path: a.txt, path: b.txt}\n"), line(6),
         says="duplicate key 'path'"),
    Case("task YAML: nested ten thousand levels deep", task("zz: " + "[" * 10000 + "]" * 10000 + "\n"), line(5),
         says="YAML"),
    Case("task YAML: aliases that expand to 387 million values", task(alias_bomb("zz")), line(7), says="aliases"),
    Case("task YAML: a list that holds itself", task("zz: &a [1, *a]\n"), line(5), says="holds itself"),
    # ---------------------------------------------------------------- frontmatter and encoding of a task file
    Case("task frontmatter: missing", {BAD: "title: Bad\nrun: 'true'\n"}, line(1), says="'---'"),
    Case("task frontmatter: never closed", {BAD: "---\ntitle: Bad\nrun: 'true'\n"}, line(1), says="not closed"),
    Case("task frontmatter: empty file", {BAD: ""}, line(1), says="'---'"),
    Case("task frontmatter: empty", {BAD: "---\n---\n\nBody.\n"}, line(1), says="title"),
    Case("task frontmatter: a list", {BAD: "---\n- title\n- run\n---\n"}, line(2), says="mapping"),
    Case("task frontmatter: a plain sentence", {BAD: "---\nJust a sentence.\n---\n"}, line(2), says="mapping"),
    Case("task frontmatter: closed by '+++'", {BAD: "---\ntitle: Bad\nrun: 'true'\n+++\n"}, line(1), says="not closed"),
    Case("task encoding: random bytes", {BAD: noise(600, "task")}, BAD, says="UTF-8"),
    Case("task encoding: Latin-1 text", {BAD: "---\ntitle: Café\nrun: 'true'\n---\n".encode("latin-1")}, BAD,
         says="UTF-8"),
    Case("task encoding: UTF-16 with a byte order mark", {BAD: fm("title: Bad\nrun: 'true'\n").encode("utf-16")}, BAD,
         says="UTF-8"),
    Case("task encoding: an overlong UTF-8 sequence", {BAD: b"---\ntitle: \xc0\xaf\nrun: 'true'\n---\n"}, BAD,
         says="UTF-8"),
    # ---------------------------------------------------------------- wrong types and values
    Case("task type: title is a list", {BAD: fm("title: [a, b]\nrun: 'true'\n")}, line(2), says="title"),
    Case("task type: title is empty", {BAD: fm("title: ''\nrun: 'true'\n")}, line(2), says="title"),
    Case("task type: needs is a number", task("needs: 5\n"), line(5), says="needs"),
    Case("task type: inputs is a mapping", task("inputs: {a: b}\n"), line(5), says="inputs"),
    Case("task type: outputs is a number", {BAD: fm("title: Bad\nrun: 'true'\noutputs: 7\n")}, line(4), says="outputs"),
    Case("task type: retries is a word", task("retries: many\n"), line(5), says="retries"),
    Case("task type: retries out of range", task("retries: 99\n"), line(5), says="retries"),
    Case("task type: retries a 31-digit number", task("retries: " + "9" * 31 + "\n"), line(5), says="retries"),
    Case("task type: timeout negative", task("timeout: -1\n"), line(5), says="timeout"),
    Case("task type: timeout not a number", task("timeout: .nan\n"), line(5), says="timeout"),
    Case("task type: budget is a number", task("budget: 5\n"), line(5), says="budget"),
    Case("task type: budget usd is a word", task("budget: {usd: lots}\n"), line(5), says="usd"),
    Case("task type: budget context_tokens zero", task("budget: {context_tokens: 0}\n"), line(5), says="context_tokens"),
    Case("task type: acceptance is a mapping", task("acceptance: {a: b}\n"), line(5), says="acceptance"),
    Case("task type: env is a number", task("env: 5\n"), line(5), says="env"),
    Case("task type: mode unknown", task("mode: chat\n"), line(5), says="mode"),
    Case("task type: executor unknown", task("executor: robot\n"), line(5), says="executor"),
    Case("task type: isolation unknown", task("isolation: sandbox\n"), line(5), says="isolation"),
    Case("task type: network is a list", task("network: [a]\n"), line(5), says="network"),
    Case("task type: rounds out of range", task("rounds: 100\n"), line(5), says="rounds"),
    Case("task type: input view unknown", task("inputs: [{path: a.txt, view: summary}]\n"), line(5), says="view"),
    Case("task type: input with both path and handoff", task("inputs: [{path: a.txt, handoff: ok}]\n"), line(5)),
    Case("task type: criterion with neither text nor run", task("acceptance: [{timeout: 5}]\n"), line(5)),
    # ---------------------------------------------------------------- unknown keys
    Case("task key: 'output', did you mean 'outputs'", task("output: [x.txt]\n"), line(5), says="did you mean 'outputs'"),
    Case("task key: unknown", task("colour: blue\n"), line(5), says="unknown key 'colour'"),
    Case("task key: unknown inside budget", task("budget: {tokens: 5}\n"), line(5), says="tokens"),
    Case("task key: unknown inside an input", task("inputs: [{path: a.txt, veiw: outline}]\n"), line(5), says="veiw"),
    # ---------------------------------------------------------------- ids and the graph
    Case("task id: a file name with a space", {".agents/tasks/Bad Name.md": fm("title: B\nrun: 'true'\n")},
         ".agents/tasks/Bad Name.md", says="not a valid task id"),
    Case("task id: a file name in capitals", {".agents/tasks/Upper.md": fm("title: B\nrun: 'true'\n")},
         ".agents/tasks/Upper.md", says="not a valid task id"),
    Case("task id: a file name with '@'", {".agents/tasks/a@b.md": fm("title: B\nrun: 'true'\n")},
         ".agents/tasks/a@b.md", says="not a valid task id"),
    Case("task id: needs an invalid id", task("needs: ['Bad Id']\n"), line(5), says="needs"),
    Case("task needs: a task that does not exist", task("needs: [nosuch]\n"), line(5), says="nosuch", mentioned_by=CHECKED),
    Case("task needs: itself", task("needs: [bad]\n"), line(5), says="cycle", mentioned_by=CHECKED),
    Case("task needs: a cycle of two", {**task("needs: [other]\n"),
                                        ".agents/tasks/other.md": fm("title: O\nrun: 'true'\nneeds: [bad]\n")},
         None, says="cycle"),
    Case("task needs: a cycle of three", {
        **task("needs: [c2]\n"),
        ".agents/tasks/c2.md": fm("title: C2\nrun: 'true'\nneeds: [c3]\n"),
        ".agents/tasks/c3.md": fm("title: C3\nrun: 'true'\nneeds: [bad]\n"),
    }, None, says="cycle"),
    Case("task input: the handoff of an unknown task", task("inputs: [{handoff: ghost}]\n"), line(5), says="ghost", mentioned_by=CHECKED),
    Case("task role: unknown", {BAD: fm("title: Bad\nrole: nobody\noutputs: [out/bad.txt]\n")}, line(3), says="nobody", mentioned_by=CHECKED),
    Case("task role: verified by its own role", {BAD: fm("title: Bad\nrole: reviewer\noutputs: [out/b.txt]\n"
                                                         "acceptance: [Good]\nverifier: reviewer\n")}, None,
         says="verifier"),
    Case("task outputs: shared with another task", {BAD: fm("title: Bad\nrun: 'true'\noutputs: [out/ok.txt]\n")},
         None, says="out/ok.txt", mentioned_by=("validate", "run")),
    Case("task select: no role has the labels", {BAD: fm("title: Bad\nselect: {lang: cobol}\noutputs: [o.txt]\n")},
         None, says="cobol"),
    Case("task mode: a discussion of one", {BAD: fm("title: Bad\nrole: developer\nmode: discussion\n"
                                                    "participants: [planner]\noutputs: [o.txt]\n")}, None,
         says="participants"),
    Case("task foreach: every item writes the same output", {BAD: fm("title: Bad\nforeach: 'notes/*.md'\n"
                                                                     "run: 'wc -c {item} > out/n.txt'\n"
                                                                     "outputs: [out/n.txt]\n"),
                                                            "notes/a.md": "a\n", "notes/b.md": "b\n"},
         None, says="out/n.txt"),
    Case("task foreach: a placeholder inside $( )", {BAD: fm("title: Bad\nforeach: 'notes/*.md'\n"
                                                             "run: 'echo $(cat {item}) > out/{stem}.txt'\n"
                                                             "outputs: ['out/{stem}.txt']\n"),
                                                    "notes/a.md": "a\n"}, None, says="after `$(...)`"),
    # ---------------------------------------------------------------- paths
    Case("path: absolute input", task("inputs: [/etc/passwd]\n"), line(5), says="absolute"),
    Case("path: input above the repository", task("inputs: [../outside.txt]\n"), line(5), says="'..'"),
    Case("path: '..' inside a path", task("inputs: [a/../../x.txt]\n"), line(5), says="'..'"),
    Case("path: input in .git", task("inputs: [.git/config]\n"), line(5), says=".git"),
    Case("path: input in a nested repository's .git", task("inputs: [vendor/.git/config]\n"), line(5), says=".git"),
    Case("path: .GIT in capitals", task("inputs: [.GIT/config]\n"), line(5), says=".git"),
    Case("path: git~1, the short name of .git", task("inputs: [git~1/config]\n"), line(5), says=".git"),
    Case("path: a glob that matches .git", task("inputs: ['.g*/config']\n"), line(5), says=".git"),
    Case("path: a NUL character", task('inputs: ["a\\0b.txt"]\n'), line(5), says="control character"),
    Case("path: a newline", task('inputs: ["a\\nb.txt"]\n'), line(5), says="control character"),
    Case("path: a backslash", {BAD: fm('title: Bad\nrun: \'true\'\noutputs: ["out\\\\b.txt"]\n')}, line(4),
         says="backslash"),
    Case("path: empty", {BAD: fm("title: Bad\nrun: 'true'\noutputs: ['']\n")}, line(4), says="empty"),
    Case("path: only spaces", {BAD: fm("title: Bad\nrun: 'true'\noutputs: ['   ']\n")}, line(4), says="empty"),
    Case("path: from the home folder", task("inputs: ['~/notes.txt']\n"), line(5), says="absolute"),
    Case("path: a Windows drive", task("inputs: ['C:notes.txt']\n"), line(5), says="absolute"),
    Case("path: an output under .agents", {BAD: fm("title: Bad\nrun: 'true'\noutputs: [.agents/x.txt]\n")}, line(4),
         says=".agents", mentioned_by=CHECKED),
    Case("path: an input in agents' cache", task("inputs: [.agents/cache/status.json]\n"), line(5),
         says="machine-local"),
    Case("path: an output that is a folder", {BAD: fm("title: Bad\nrun: 'true'\noutputs: [out]\n")}, line(4),
         says="folder", mentioned_by=CHECKED),
    Case("path: an output glob", {BAD: fm("title: Bad\nrun: 'true'\noutputs: ['out/*.txt']\n")}, line(4),
         says="glob", mentioned_by=CHECKED),
    Case("path: an input through a symlink out of the repository", {"outside": Link("{outside_dir}"),
                                                                    **task("inputs: [outside/file.txt]\n")},
         None, says="symlink"),
    Case("path: an input through a symlink into .git", {"gitlink": Link(".git"), **task("inputs: [gitlink/config]\n")},
         None, says=".git"),
    Case("path: an output through a symlink", {"outlink": Link("out"), BAD: fm(
        "title: Bad\nrun: 'true'\noutputs: [outlink/b.txt]\n")}, None, says="symlink"),
    Case("path: a foreach glob above the repository", {BAD: fm("title: Bad\nforeach: '../*.md'\nrun: 'true'\n")},
         line(3), says="'..'"),
    Case("path: the whole repository as an input", task("inputs: ['./']\n"), None, says="whole repository"),
    # ---------------------------------------------------------------- folders where files should be, and back
    Case("layout: a task file that is a folder", {BAD: DIR}, BAD, says="folder"),
    Case("layout: a task file that is a symlink out of the repository", {BAD: Link("{outside}")}, BAD,
         says="symlink"),
    Case("layout: .agents/tasks is a file", {".agents/tasks": "not a folder\n"}, ".agents/tasks", says="is a file",
         codes={"status": 2}),
    Case("layout: .agents/roles is a file", {".agents/roles": "not a folder\n"}, ".agents/roles", says="is a file",
         codes={"status": 2}),
    Case("layout: .agents/handoffs is a file", {".agents/handoffs": "not a folder\n"}, ".agents/handoffs",
         says="is a file", codes={"status": 2, "show": 2}),
    Case("layout: .agents/runs is a file", {".agents/runs": "not a folder\n", **MORE}, ".agents/runs",
         says="is a file", codes=HANDOFF_CODES, mentioned_by=("validate", "run", "show")),
    Case("layout: .agents/config.yaml is a folder", {CONFIG: DIR}, CONFIG, codes={"status": 2}, says="folder"),
    Case("layout: .agents is a file", {".agents": "not a folder\n"}, None, codes={"status": 2},
         says="no agents project"),
    Case("layout: a role file that is a folder", {ROLE: DIR}, ROLE, says="folder", mentioned_by=CHECKED),
    Case("layout: .claude/agents is a file", {".claude/agents": "not a folder\n"}, ".claude/agents", says="is a file",
         codes={"status": 2}),
    Case("layout: an output's folder is a file", {"out": "a file where the folder of out/ok.txt is\n",
                                                  ".agents/tasks/ok.md": Edit(lambda t: t.replace("ok\n", "ok2\n"))},
         None, says="out", mentioned_by=("run",), codes={"validate": 0}),
    Case("layout: the handoff is a folder", {HANDOFF: DIR}, HANDOFF, says="folder", codes=HANDOFF_CODES),
    Case("layout: the run record is a folder", {RECORD: DIR}, RECORD, codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("layout: the run folder is a file", {".agents/runs/{run}": "not a folder\n"}, ".agents/runs/{run}",
         codes=RECORD_CODES, mentioned_by=BY_RECORD),
    # ---------------------------------------------------------------- roles of the project
    Case("role YAML: syntax error", {ROLE: fm("name: broken\ndescription: [oops\n"), **USES}, f"{ROLE}:4", mentioned_by=CHECKED),
    Case("role frontmatter: missing", {ROLE: "name: broken\n", **USES}, f"{ROLE}:1", says="'---'", mentioned_by=CHECKED),
    Case("role key: unknown", {ROLE: fm("name: broken\ndescription: d\ndescrption: x\n"), **USES}, f"{ROLE}:4",
         says="did you mean", mentioned_by=CHECKED),
    Case("role name: differs from the file name", {ROLE: fm("name: other\ndescription: d\n"), **USES}, f"{ROLE}:2",
         says="differs", mentioned_by=CHECKED),
    Case("role name: not a valid name", {".agents/roles/Bad Role.md": fm("name: Bad Role\ndescription: d\n")},
         ".agents/roles/Bad Role.md:2", says="not valid", mentioned_by=CHECKED),
    Case("role key: description missing", {ROLE: fm("name: broken\n"), **USES}, f"{ROLE}:2", says="description", mentioned_by=CHECKED),
    Case("role type: model is a list", {ROLE: fm("name: broken\ndescription: d\nmodel: [a, b]\n"), **USES},
         f"{ROLE}:4", says="model", mentioned_by=CHECKED),
    Case("role type: agents isolation unknown", {ROLE: fm("name: broken\ndescription: d\nagents: {isolation: jail}\n"),
                                                **USES}, f"{ROLE}:4", says="isolation", mentioned_by=CHECKED),
    Case("role type: labels is a list", {ROLE: fm("name: broken\ndescription: d\nagents: {labels: [a]}\n"), **USES},
         f"{ROLE}:4", says="labels", mentioned_by=CHECKED),
    Case("role encoding: random bytes", {ROLE: noise(300, "role"), **USES}, ROLE, says="UTF-8", mentioned_by=CHECKED),
    Case("role frontmatter: empty file", {ROLE: "", **USES}, f"{ROLE}:1", mentioned_by=CHECKED),
    Case("role YAML: aliases that expand to 387 million values",
         {ROLE: fm("name: broken\ndescription: d\n" + alias_bomb("hooks")), **USES}, f"{ROLE}:6", says="aliases", mentioned_by=CHECKED),
    # ---------------------------------------------------------------- Claude Code's subagents (a task names the role)
    Case("claude agent YAML: an unquoted ': ' in the description", {FOREIGN: fm(
        "name: broken\ndescription: Reviews data. Triggers on: 'GDPR', 'privacy'\ntools: Read\n"), **USES},
        ".agents/tasks/uses.md", says="was left out", mentioned_by=CHECKED),
    Case("claude agent frontmatter: missing", {FOREIGN: "You are a role without frontmatter.\n", **USES},
         ".agents/tasks/uses.md", says="was left out", mentioned_by=CHECKED),
    Case("claude agent frontmatter: never closed", {FOREIGN: "---\nname: broken\ndescription: d\n", **USES},
         ".agents/tasks/uses.md", says="was left out", mentioned_by=CHECKED),
    Case("claude agent encoding: random bytes", {FOREIGN: noise(300, "claude"), **USES}, ".agents/tasks/uses.md",
         says="was left out", mentioned_by=CHECKED),
    Case("claude agent frontmatter: empty file", {FOREIGN: "", **USES}, ".agents/tasks/uses.md",
         says="was left out", mentioned_by=CHECKED),
    Case("claude agent layout: a folder", {FOREIGN: DIR, **USES}, ".agents/tasks/uses.md", says="cannot be loaded", mentioned_by=CHECKED),
    Case("claude agent name: not a valid name", {".claude/agents/x.md": fm("name: Broken Role\ndescription: d\n"),
                                                 **USES}, ".agents/tasks/uses.md", says="broken", mentioned_by=CHECKED),
    Case("claude agent key: description missing", {FOREIGN: fm("name: broken\ntools: Read\n"), **USES},
         ".agents/tasks/uses.md", says="was left out", mentioned_by=CHECKED),
    Case("claude agent type: tools is a number", {FOREIGN: fm("name: broken\ndescription: d\ntools: 5\n"), **USES},
         ".agents/tasks/uses.md", says="was left out", mentioned_by=CHECKED),
    Case("claude agent layout: a symlink out of the repository", {FOREIGN: Link("{outside_role}"), **USES},
         ".agents/tasks/uses.md", says="was left out", mentioned_by=CHECKED),
    Case("claude agent YAML: aliases that expand to 387 million values",
         {FOREIGN: fm("name: broken\ndescription: d\n" + alias_bomb("hooks")), **USES}, ".agents/tasks/uses.md",
         says="was left out", mentioned_by=CHECKED),
    # ---------------------------------------------------------------- handoffs (of the task `ok`, which has run)
    Case("handoff encoding: random bytes", {HANDOFF: noise(400, "handoff")}, HANDOFF, says="UTF-8",
         codes=HANDOFF_CODES),
    Case("handoff encoding: Latin-1 text", {HANDOFF: Edit(lambda t: t.replace("## Summary", "## Résumé"))}, HANDOFF,
         codes=HANDOFF_CODES, says="UTF-8"),
    Case("handoff frontmatter: empty file", {HANDOFF: ""}, f"{HANDOFF}:1", codes=HANDOFF_CODES),
    Case("handoff YAML: syntax error", {HANDOFF: handoff_edit("status: done", "status: [done")}, HANDOFF,
         codes=HANDOFF_CODES, says="YAML"),
    Case("handoff frontmatter: missing", {HANDOFF: "## Summary\n\nDone.\n"}, f"{HANDOFF}:1", codes=HANDOFF_CODES),
    Case("handoff task: names another task", {HANDOFF: handoff_edit("task: ok", "task: other")}, HANDOFF,
         codes=HANDOFF_CODES, says="other"),
    Case("handoff run: an id that climbs out", {HANDOFF: handoff_edit("run: ", "run: ../../x\nold: ")}, HANDOFF,
         codes=HANDOFF_CODES),
    Case("handoff status: unknown", {HANDOFF: handoff_edit("status: done", "status: finished")}, HANDOFF,
         codes=HANDOFF_CODES, says="status"),
    Case("handoff hash: not hexadecimal", {HANDOFF: handoff_edit("sha256:", "sha256:xyz")}, HANDOFF,
         codes=HANDOFF_CODES, says="hash"),
    Case("handoff hash: another algorithm", {HANDOFF: handoff_edit("sha256:", "md5:")}, HANDOFF, codes=HANDOFF_CODES,
         says="hash"),
    Case("handoff hash: a number", {HANDOFF: Edit(lambda t: __import__("re").sub(r"sha256:[0-9a-f]{64}", "12", t, 1))},
         HANDOFF, codes=HANDOFF_CODES, says="definition"),
    Case("handoff hash: too short", {HANDOFF: Edit(lambda t: __import__("re").sub(r"(sha256:[0-9a-f]{10})[0-9a-f]{54}",
                                                                                  r"\1", t, 1))},
         HANDOFF, codes=HANDOFF_CODES, says="hash"),
    Case("handoff path: an output outside the repository", {HANDOFF: handoff_edit("out/ok.txt:", "../ok.txt:")},
         HANDOFF, codes=HANDOFF_CODES, says="'..'"),
    Case("handoff path: an input in .git", {HANDOFF: handoff_edit("inputs: {}", "inputs: {.git/config: sha256:"
                                                                             + "0" * 64 + "}")},
         HANDOFF, codes=HANDOFF_CODES, says=".git"),
    Case("handoff upstream: a run id that climbs out", {HANDOFF: handoff_edit("outputs:", "upstream: {x: ../../y}\n"
                                                                                          "outputs:")},
         HANDOFF, codes=HANDOFF_CODES),
    Case("handoff schema: a newer version", {HANDOFF: handoff_edit("schema: 1", "schema: 2")}, HANDOFF,
         codes=HANDOFF_CODES, says="schema"),
    Case("handoff key: unknown", {HANDOFF: handoff_edit("status: done", "status: done\nmood: good")}, HANDOFF,
         codes=HANDOFF_CODES, says="mood"),
    Case("handoff layout: a symlink out of the repository", {HANDOFF: Link("{outside_handoff}")}, HANDOFF,
         codes=HANDOFF_CODES, says="symlink"),
    # ---------------------------------------------------------------- run records (the task `ok` stays done)
    Case("record JSON: truncated", {RECORD: Edit(lambda t: t[: len(t) // 2])}, RECORD,
         codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record JSON: random bytes", {RECORD: noise(200, "record")}, RECORD,
         codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record JSON: empty file", {RECORD: ""}, RECORD, codes={"validate": 0, "run": 0, "show": 2},
         mentioned_by=("show",)),
    Case("record JSON: a list, not an object", {RECORD: "[1, 2]\n"}, RECORD,
         codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record type: inputs is a list", {RECORD: Edit(lambda t: t.replace('"inputs": {}', '"inputs": ["a"]'))},
         RECORD, codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record type: exit code is a word", {RECORD: Edit(lambda t: t.replace('"exit_code": 0', '"exit_code": "zero"'))},
         RECORD, codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record type: usage in words", {RECORD: Edit(lambda t: t.replace('"duration_s": ', '"input_tokens": "many", '
                                                                         '"duration_s": ', 1))},
         RECORD, codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record type: a check that is a word", {RECORD: Edit(lambda t: t.replace('"checks": []', '"checks": ["ok"]'))},
         RECORD, codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record type: the attempt is a word", {RECORD: Edit(lambda t: t.replace('"attempt": 1', '"attempt": "first"'))},
         RECORD, codes=RECORD_CODES, mentioned_by=BY_RECORD),
    Case("record path: an output climbing out", {RECORD: Edit(lambda t: t.replace('"out/ok.txt"', '"../../ok.txt"'))},
         RECORD, codes={**RECORD_CODES, "usage": 0, "review": 0}, mentioned_by=("show", "replay")),
    Case("record layout: stdout is a symlink out of the repository", {".agents/runs/{run}/stdout.txt": Link("{outside}")},
         ".agents/runs/{run}/stdout.txt", codes={**RECORD_CODES, "usage": 0, "review": 0}, mentioned_by=("show", "replay")),
    Case("record JSON: a broken request of the conversation", {".agents/runs/{run}/requests/001.json": "{\"model\": "},
         ".agents/runs/{run}/requests/001.json", codes={**RECORD_CODES, "usage": 0, "review": 0}, mentioned_by=("show", "replay")),
    # ---------------------------------------------------------------- the project's config
    Case("config YAML: syntax error", {CONFIG: "model: [\n"}, f"{CONFIG}:2", codes={"status": 2}, says="YAML"),
    Case("config YAML: duplicate key", {CONFIG: "jobs: 2\njobs: 3\n"}, f"{CONFIG}:2", codes={"status": 2},
         says="duplicate"),
    Case("config frontmatter: a list", {CONFIG: "- model\n- jobs\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="mapping"),
    Case("config encoding: not UTF-8", {CONFIG: b"model: caf\xe9\n"}, CONFIG, codes={"status": 2}, says="UTF-8"),
    Case("config key: unknown", {CONFIG: "jobz: 2\n"}, f"{CONFIG}:1", codes={"status": 2}, says="jobz"),
    Case("config budget: negative context tokens", {CONFIG: "budget: {context_tokens: -5}\n"}, f"{CONFIG}:1",
         codes={"status": 2}, says="context_tokens"),
    Case("config budget: usd is a word", {CONFIG: "budget:\n  usd: plenty\n"}, f"{CONFIG}:2", codes={"status": 2},
         says="usd"),
    Case("config budget: a list", {CONFIG: "budget: [1, 2]\n"}, f"{CONFIG}:1", codes={"status": 2}, says="budget"),
    Case("config prices: a number for a model", {CONFIG: "prices:\n  claude-x: 5\n"}, f"{CONFIG}:2",
         codes={"status": 2}, says="prices"),
    Case("config prices: a negative price", {CONFIG: "prices:\n  claude-x: {input: -1, output: 2}\n"}, f"{CONFIG}:2",
         codes={"status": 2}, says="input"),
    Case("config prices: an unknown field", {CONFIG: "prices:\n  claude-x: {input: 1, output: 2, cached: 1}\n"},
         f"{CONFIG}:2", codes={"status": 2}, says="cached"),
    Case("config prices: a price missing", {CONFIG: "prices:\n  claude-x: {input: 1}\n"}, f"{CONFIG}:2",
         codes={"status": 2}, says="output"),
    Case("config models: a list", {CONFIG: "models: [opus, sonnet]\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="models"),
    Case("config model: a number", {CONFIG: "model: 5\n"}, f"{CONFIG}:1", codes={"status": 2}, says="model"),
    Case("config model: a mapping", {CONFIG: "model: {name: sonnet}\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="model"),
    Case("config jobs: zero", {CONFIG: "jobs: 0\n"}, f"{CONFIG}:1", codes={"status": 2}, says="jobs"),
    Case("config api: negative retries", {CONFIG: "api: {retries: -1}\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="retries"),
    Case("config api: unknown provider", {CONFIG: "api: {provider: openai}\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="provider"),
    Case("config executor: unknown", {CONFIG: "executor: robot\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="executor"),
    Case("config verifier: no such role", {CONFIG: "verifier: nobody\n", **JUDGED}, None, says="nobody"),
    Case("config isolation: unknown", {CONFIG: "isolation: jail\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="isolation"),
    Case("config toolchain: a word, not a list", {CONFIG: "toolchain: 5\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="toolchain"),
    Case("config commit: definitions is a word", {CONFIG: "commit: {definitions: maybe}\n"}, f"{CONFIG}:1",
         codes={"status": 2}, says="definitions"),
    Case("config schema: a newer version", {CONFIG: "schema: 2\n"}, f"{CONFIG}:1", codes={"status": 2},
         says="schema"),
    Case("config YAML: aliases that expand to 387 million values", {CONFIG: alias_bomb("models")}, f"{CONFIG}:3",
         codes={"status": 2}, says="alias"),
]
