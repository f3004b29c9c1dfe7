"""What a valid repository path is (core/paths.py), judged after normalisation, and what a path reaches
through the symlinks on its way; the shell quoting of foreach placeholders (core/foreach.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agentfiles.core.foreach import placeholder_contexts, substitute, unsafe_placeholder
from agentfiles.core.paths import (
    Reach,
    check_input_key,
    check_repo_path,
    has_glob,
    is_valid_run_id,
    normalize_repo_path,
    off_limits,
)


@pytest.mark.parametrize(("value", "normal"), [
    ("a/b", "a/b"), ("./a//b/", "a/b"), ("a/./b", "a/b"), (".", "."), ("./", "."), ("//", "."), ("a", "a"),
    ("./.git/x", ".git/x"), (".//.git/config", ".git/config"), ("a/../b", "a/../b"), (".a/b", ".a/b"),
    ("a.", "a."), ("..", ".."),
])
def test_normalised_form(value: str, normal: str) -> None:
    assert normalize_repo_path(value) == normal


@pytest.mark.parametrize("value", ["a.txt", "docs/a b.md", "src/**/*.py", ".github/workflows/ci.yml", ".", "./a",
                                   "a//b", ".gitignore", "x/.gitmodules", "a.git/b", "git/x", ".agents/tasks/t.md",
                                   ".agents/handoffs/t.md", ".agents/cachet", ".agents/tmpx/y", "docs/.*rc",
                                   "a$(touch x).md", "é/ü.md", ".agents/run.lock.d/x", "x~"])
def test_paths_a_task_may_name(value: str) -> None:
    assert check_repo_path(value) is None


@pytest.mark.parametrize(("value", "why"), [
    ("", "may not be empty"), (" ", "may not be empty"), ("\t \n", "may not be empty"),
    ("a\0b", "control character"), ("a\nb", "control character"), ("a\rb", "control character"),
    ("a\x1fb", "control character"), ("a\x7fb", "control character"), ("x\tb", "control character"),
    ("a\\b", "backslashes"), ("\\x", "backslashes"),
    ("/etc/passwd", "absolute"), ("~/x", "absolute"), ("~", "absolute"), ("C:x", "absolute"), ("z:/x", "absolute"),
    ("..", "'..'"), ("../x", "'..'"), ("a/../b", "'..'"), ("a/..", "'..'"), ("./../x", "'..'"),
    (".git", "inside .git"), (".git/config", "inside .git"), ("./.git/config", "inside .git"),
    (".//.git/config", "inside .git"), ("x/.git/y", "inside .git"), ("x/.git", "inside .git"),
    (".GIT/config", "inside .git"), (".Git", "inside .git"), (".git./x", "inside .git"), (".git /x", "inside .git"),
    ("git~1/config", "inside .git"), ("GIT~1", "inside .git"), ("**/.git/**", "inside .git"), (".gi?/x", "inside .git"),
    (".g*/x", "inside .git"), (".*", "inside .git"), ("a/.[g]it/b", "inside .git"),
    (".agents/cache", "machine-local"), (".agents/cache/index.json", "machine-local"), ("./.agents/tmp/x", "machine-local"),
    (".agents/run.lock", "machine-local"), (".AGENTS/Cache/x", "machine-local"), (".agents/tmp", "machine-local"),
])
def test_paths_refused(value: str, why: str) -> None:
    problem = check_repo_path(value)
    assert problem is not None and why in problem
    if value.strip() and why not in ("control character",):
        assert repr(value) in problem  # the message names the path as written


def test_whitespace_inside_a_path_is_a_name() -> None:
    assert check_repo_path(" a") is None and check_repo_path("a b/c d") is None
    assert check_repo_path("XX") is None and check_repo_path("X/y") is None


def test_messages() -> None:
    assert check_repo_path(" ") == "a path may not be empty"
    assert check_repo_path("a\nb") == (
        "path 'a\\nb' contains a control character (a NUL, newline or tab); name files without them")
    assert check_repo_path("./.git/x") == "path './.git/x' is inside .git"
    assert check_repo_path("~x") == "path '~x' is absolute; paths are relative to the repository root"


def test_globs_and_ids() -> None:
    assert has_glob("a*") and has_glob("a?") and has_glob("[ab]") and not has_glob("a.b")
    assert is_valid_run_id("20240101T000000Z-abc123") and is_valid_run_id("r1") and is_valid_run_id("family-0a")
    for bad in ("", "..", ".", "../../..", "a/b", "-x", ".hidden", "a\nb", "a b"):
        assert not is_valid_run_id(bad), bad
    assert check_input_key("handoff:t") is None and check_input_key("handoff:t@docs--a.md") is None
    assert "not a valid task id" in (check_input_key("handoff:../x") or "")
    assert "not a valid task id" in (check_input_key("handoff:") or "")
    assert check_input_key("docs/a.md") is None and "'..'" in (check_input_key("../a") or "")


def test_off_limits_kinds() -> None:
    assert off_limits(".git/x") == "git" and off_limits("a/.git") == "git"
    assert off_limits(".agents/cache/x") == "internal" and off_limits(".agents/run.lock") == "internal"
    assert off_limits(".agents/tasks/x.md") is None and off_limits("a/.agents/cache") is None
    assert off_limits("docs/a.md") is None and off_limits(".") is None


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel in ("docs/a.md", ".git/config", "sub/.git/config", ".agents/cache/index.json", "in/x.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("s")
    os.symlink(tmp_path / "outside", root / "out")  # a folder leading out
    os.symlink("../../outside/secret.txt", root / "docs/leak.txt")  # a file leading out, relatively
    os.symlink(".git", root / "gl")  # into .git
    os.symlink("sub/.git/config", root / "nested.cfg")  # into a nested repository's .git
    os.symlink(".agents/cache", root / "cache")  # into agents' own state
    os.symlink("a.md", root / "docs/same.md")  # inside, to a file
    os.symlink("in", root / "via")  # inside, to a folder
    os.symlink(str(root), root / "self")  # the root itself
    return root


@pytest.mark.parametrize(("rel", "why"), [
    ("docs/a.md", None), ("docs/same.md", None), ("via/x.txt", None), ("in/x.txt", None), ("self", None),
    ("self/docs/a.md", None), ("missing/file.txt", None),
    ("out/secret.txt", "leaves the repository through a symlink"), ("out", "leaves the repository"),
    ("docs/leak.txt", "leaves the repository"), ("gl/config", "leads into .git through a symlink"),
    ("gl", "leads into .git"), ("nested.cfg", "leads into .git"),
    ("cache/index.json", "leads into the machine-local state of .agents/"),
    (".git/config", "is inside .git"), ("sub/.git/config", "is inside .git"), (".agents/cache", "machine-local"),
    ("a\nb", "control character"), ("a\\b", "backslash"), ("a\0b", "control character"),
])
def test_what_a_path_reaches(tree: Path, rel: str, why: str | None) -> None:
    problem = Reach(tree).problem(rel)
    assert problem == why if why is None else (problem is not None and why in problem), problem


@pytest.mark.parametrize(("rel", "link"), [("docs/same.md", "docs/same.md"), ("via/new.txt", "via"),
                                           ("self/x", "self"), ("via/deep/new.txt", "via")])
def test_an_output_goes_through_no_symlink(tree: Path, rel: str, link: str) -> None:
    assert Reach(tree).problem(rel) is None
    assert Reach(tree).problem(rel, output=True) == (
        f"goes through a symlink ({link}); an output is written where it is declared")


def test_a_strange_name_on_disk(tree: Path) -> None:
    assert Reach(tree).problem("a\tb") == "has a control character or a backslash in its name"


def test_an_output_outside_the_repository_says_so_first(tree: Path) -> None:
    assert Reach(tree).problem("out/new.txt", output=True) == "leaves the repository through a symlink"
    assert Reach(tree).problem("docs/new.txt", output=True) is None
    assert Reach(tree).problem("new.txt", output=True) is None


def test_real_paths(tree: Path) -> None:
    reach = Reach(tree)
    assert reach.real("docs/same.md") == "docs/a.md" and reach.real("via/x.txt") == "in/x.txt"
    assert reach.real("self") == "." and reach.real("gl/config") == ".git/config"
    assert reach.real("out/secret.txt") is None and reach.real("docs/leak.txt") is None
    assert reach.real("docs/a.md") == "docs/a.md" and reach.real("docs") == "docs"


def test_a_root_reached_through_a_symlink(tree: Path, tmp_path: Path) -> None:
    os.symlink(tree, tmp_path / "alias")
    reach = Reach(tmp_path / "alias")
    assert reach.problem("docs/a.md") is None and reach.problem("gl/config") == "leads into .git through a symlink"
    assert reach.problem("out/secret.txt") == "leaves the repository through a symlink"


def test_a_sibling_folder_sharing_the_roots_prefix_is_outside(tmp_path: Path) -> None:
    root, sibling = tmp_path / "repo", tmp_path / "repo-evil"
    root.mkdir()
    sibling.mkdir()
    (sibling / "x").write_text("x")
    os.symlink(sibling / "x", root / "x")
    assert Reach(root).problem("x") == "leaves the repository through a symlink"


# ------------------------------------------------------------------------------------ foreach quoting


@pytest.mark.parametrize(("command", "contexts"), [
    ("cat {item}", ["plain"]),
    ('cat "{item}"', ["double"]),
    ("cat '{item}'", ["single"]),
    ("cat {item} \"{name}\" '{stem}'", ["plain", "double", "single"]),
    ("echo \"it's\" {item}", ["plain"]),
    ("echo 'say \"hi\"' {item}", ["plain"]),
    ('echo "a \\" b" {item}', ["plain"]),
    ("echo \\' {item}", ["plain"]),
    ("echo \\\" {item}", ["plain"]),
    ("echo x # it's {item}", ["plain"]),
    ("echo x # it's\ncat {item}", ["plain"]),
    ("echo a#'b {item}'", ["single"]),
    ("echo $# '{item}'", ["single"]),
    ('echo "${HOME}" "{item}"', ["double"]),
    ("echo ${HOME} {item}", ["plain"]),
    ('echo "#" {item}', ["plain"]),
    ('echo "\'" {item}', ["plain"]),
    ("echo '\\' {item}", ["plain"]),
    ("cat \\{item}", ["right after a `\\`"]),
    ('cat \\{item}"{name}"', ["right after a `\\`", "double"]),
    ("cat ${item}'{name}'", ["right after a `$`", "single"]),
    ("echo \\\"'{item}'", ["single"]),
    ('cat "\\{item}"', ["right after a `\\`"]),
    ("echo ${item}", ["right after a `$`"]),
    ('echo "$(date)" {item}', ["after `$(...)`"]),
    ("echo $(date) {item}", ["after `$(...)`"]),
    ("echo `date` {item}", ["after backticks"]),
    ('echo "`date`" {item}', ["after backticks"]),
    ("echo ${X:-y} {item}", ["after `${...}`"]),
    ('echo "${X:-y}" {item}', ["after `${...}`"]),
    ("echo $'x' {item}", ["after `$'...'`"]),
    ('echo $"x" {item}', ['after `$"..."`']),
    ("cat <<EOF\n{item}\nEOF", ["after a here-document"]),
    ("diff <(cat a) {item}", ["after a process substitution"]),
    ("tee >(cat) {item}", ["after a process substitution"]),
    ('echo "<<" {item}', ["plain"]),
    ("echo '$(x)' {item}", ["plain"]),
    ('echo "$\'x\'" {item}', ["plain"]),
    ("cat {item}; echo $(date)", ["plain"]),
])
def test_the_quoting_around_each_placeholder(command: str, contexts: list[str]) -> None:
    assert [quoting for _, _, quoting in placeholder_contexts(command)] == contexts


NAMES = ["plain.md", "with space.md", "a$(touch INJECTED).md", "b`touch INJECTED`.md", 'c"; touch INJECTED; ".md',
         "d'; touch INJECTED; '.md", "e $HOME *.md", "f\\$x.md", "g'\"'\"'.md", "-n.md", "h!x.md"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("command", ["printf '%s|' {item} {name} {stem}", "printf '%s|' \"{item}\" \"x{name}y\" \"{stem}\"",
                                     "printf '%s|' '{item}' 'x{name}y' '{stem}'", "printf '%s|' {item}\"\"'{name}' # '"])
def test_a_file_name_is_one_word_in_any_quoting(tmp_path: Path, name: str, command: str) -> None:
    item = f"notes/{name}"
    stem = name.rsplit(".", 1)[0]
    done = subprocess.run(["sh", "-c", substitute(command, item, shell=True)], cwd=tmp_path, capture_output=True,
                          text=True)
    assert not (tmp_path / "INJECTED").exists()
    words = done.stdout.split("|")[:-1]
    if "x{name}y" in command:
        assert words == [item, f"x{name}y", stem]
    elif "\"\"'{name}'" in command:
        assert words == [item + name]
    else:
        assert words == [item, name, stem]


def test_where_quoting_cannot_be_followed_nothing_is_run(tmp_path: Path) -> None:
    for command in ("echo \\{item}", "echo $(echo {item})", "echo `echo {item}`", "cat <<E\n{item}\nE"):
        assert unsafe_placeholder(command) is not None
        script = substitute(command, "a$(touch INJECTED).md", shell=True)
        subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True)
        assert not (tmp_path / "INJECTED").exists(), script
    assert substitute("echo $(echo {item})", "plain.md", shell=True) == "echo $(echo plain.md)"
    assert substitute("echo $(echo {item})", "a b.md", shell=True) == "echo $(echo '')"
    assert unsafe_placeholder("echo {item}") is None and unsafe_placeholder("true") is None
    assert unsafe_placeholder("echo $(date) {stem}") == (
        "the command uses {stem} after `$(...)`, where agents cannot quote it safely")


def test_substitution_outside_commands_is_plain() -> None:
    assert substitute("Summarise {name} ({stem}) from {item}", "docs/a b.md") == "Summarise a b.md (a b) from docs/a b.md"
    assert substitute("{stem}", "docs/.hidden") == ".hidden" and substitute("{stem}", "docs/x.tar.gz") == "x.tar"
    assert substitute("out/{stem}", "noext") == "out/noext"
    assert substitute("{stem}", "d/X.md") == "X" and substitute("{stem}", "..x.md") == "..x"


# ------------------------------------------------------------------------------------------- globs

GLOB_TREE = ["a.md", "b.txt", ".hidden.md", "docs/x.md", "docs/y.txt", "docs/.h.md", "docs/sub/z.md",
             "docs/sub/deep/w.md", ".github/ci.yml", ".github/sub/c.yml", "d-1/e!f.md", "d-1/]x.md", "d-1/^y.md",
             "src/m.py", "src/.cache/k.py", "x[1].md"]
GLOB_PATTERNS = ["*.md", "*", "**", "**/*.md", "docs/*", "docs/**", "docs/**/*.md", "docs/*/*.md", "*/*.md", "*/**",
                 ".*", ".*/*", ".github/**", ".github/*.yml", "**/.*", "docs/?.md", "d-1/[!e]*", "d-1/[]]*",
                 "d-1/[^]*", "d-1/[a-f]*", "**/sub/*", "**/sub/**", "src/**/*.py", "x[[]1].md", "nothing/*",
                 "*/sub/deep/*", "[ab].*", "[!a]*", "**/deep", "a.md/*", "**/**", "docs/**/**/*.md", "?", "*/*/*"]


def test_globs_match_as_glob_does(tmp_path: Path) -> None:
    import glob

    from agentfiles.core.fingerprint import glob_matches

    for rel in GLOB_TREE:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    for pattern in GLOB_PATTERNS:
        expected = {m.rstrip("/") for m in glob.glob(pattern, root_dir=tmp_path, recursive=True)} - {""}
        assert set(glob_matches(tmp_path, pattern)) == expected, pattern


def test_a_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    from agentfiles.core.fingerprint import expand_path_input

    (tmp_path / "a").mkdir()
    (tmp_path / "a/f.md").write_text("x")
    os.symlink("..", tmp_path / "a/up")
    os.symlink(".", tmp_path / "self")
    os.symlink("a", tmp_path / "alias")
    assert expand_path_input(tmp_path, "**") == ["a/f.md"]
    assert expand_path_input(tmp_path, "**/*.md") == ["a/f.md"]
    assert expand_path_input(tmp_path, "alias/**") == ["alias/f.md"]  # a link named by the pattern is followed
    assert expand_path_input(tmp_path, "*/f.md") == ["a/f.md"]


@pytest.mark.parametrize("command", ['eval "cat {item}"', 'sh -c "wc -c {item}"', "bash -lc 'cat {item}'",
                                     "true; eval wc -c {item}", '/bin/sh -c "wc -c {item}"',
                                     'echo "wc -c {item}" | sh', 'echo "wc -c {item}" |/usr/bin/env bash',
                                     'python3 -c "print(open(\'{item}\').read())"', "perl -ne 'print' {item}",
                                     '/usr/bin/python3.11 -c "x" {item}'])
def test_a_placeholder_given_to_eval_or_a_shell_to_parse_again_is_refused(command: str) -> None:
    """Quoted once for the step's own command, the value would be parsed as code by the second parse."""
    assert "parses it as a command again" in (unsafe_placeholder(command) or "")


@pytest.mark.parametrize("command", ["cat {item} | xargs echo", "wc -c {item} && sh ./tool.sh", "grep -c x {item}",
                                     "cat {item} | shasum", "python3 tool.py {item}", "wc -c {item} | sort"])
def test_a_second_shell_that_is_not_given_the_value_is_fine(command: str) -> None:
    assert unsafe_placeholder(command) is None


def test_a_plain_path_is_one_the_checks_accept_as_it_is() -> None:
    """PLAIN_PATH lets a path skip the checks (models.py): every string it matches, over an alphabet of the
    characters that matter ('.', '/', '~', ':', git's names, the internal folders), is accepted and normal."""
    import itertools

    from agentfiles.core.paths import PLAIN_PATH

    pieces = ["a", "G", "git", "git~1", ".", "/", "-", "_", "~", ":", "agents", "cache", "1", " "]
    matched = 0
    for n in range(1, 5):
        for combo in itertools.product(pieces, repeat=n):
            value = "".join(combo)
            for candidate in (value, ".agents/" + value, ".git/" + value, value + "/.git"):
                if PLAIN_PATH.fullmatch(candidate):
                    matched += 1
                    assert check_repo_path(candidate) is None, candidate
                    assert normalize_repo_path(candidate) == candidate, candidate
    assert matched > 1000
    assert not PLAIN_PATH.fullmatch(".agents/cache/x") and not PLAIN_PATH.fullmatch("a/.git")


def test_one_reach_shares_the_folders_real_paths_only_within_its_scope(tmp_path: Path) -> None:
    """A status sizing thousands of contexts finds each folder's real path once (`one_reach`); outside that
    scope every check looks again, so a link made between two checks is seen."""
    from agentfiles.core.paths import one_reach, reach_of

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a\n")
    assert reach_of(tmp_path) is not reach_of(tmp_path)
    with one_reach():
        shared = reach_of(tmp_path)
        assert reach_of(tmp_path) is shared and reach_of(str(tmp_path)) is shared
        assert shared.problem("data/a.txt") is None
    (tmp_path / "data").rename(tmp_path / "elsewhere")
    (tmp_path / "data").symlink_to("/tmp")
    assert reach_of(tmp_path).problem("data/a.txt") == "leaves the repository through a symlink"
