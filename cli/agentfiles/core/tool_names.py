"""The names of the doer's tools, ours and Claude Code's, as a role's `tools:` and `disallowedTools:` give
them, and what is wrong with a name there: all that validating a project needs of core/tools.py (whose
schemas and context are imported only by a model step)."""

from __future__ import annotations

ALL = ("read_file", "list_files", "search", "write_file", "edit_file", "delete_file", "run")
# Claude Code's tool names in a role's `tools:`, as ours: reading is reading declared files (Read, Glob,
# Grep), writing is writing declared outputs (Write, Edit), a shell is `run` (Bash).
CLAUDE_NAMES = {
    "Read": ("read_file", "list_files", "search"), "Glob": ("list_files",), "LS": ("list_files",),
    "Grep": ("search",), "Write": ("write_file", "edit_file", "delete_file"), "Edit": ("edit_file",),
    "MultiEdit": ("edit_file",), "Bash": ("run",),
}
# Claude Code's other tools (its tools reference): a role of .claude/agents/ may list them for Claude Code's
# own use; a step of agents is given none of them.
CLAUDE_ONLY = frozenset({
    "Agent", "Task", "AskUserQuestion", "BashOutput", "KillShell", "CronCreate", "CronDelete", "CronList",
    "EnterPlanMode", "ExitPlanMode", "exit_plan_mode", "EnterWorktree", "ExitWorktree", "ListMcpResourcesTool",
    "ReadMcpResourceTool", "LSP", "Monitor", "NotebookEdit", "NotebookRead", "PowerShell", "SendMessage", "Skill",
    "SlashCommand", "TaskCreate", "TaskGet", "TaskList", "TaskOutput", "TaskStop", "TaskUpdate", "TodoRead",
    "TodoWrite", "ToolSearch", "WebFetch", "WebSearch",
})
AS_CLAUDE = {"read_file": "Read", "list_files": "Glob", "search": "Grep", "write_file": "Write", "edit_file": "Edit",
             "run": "Bash"}  # delete_file has no tool of its own in Claude Code: Bash's `rm`


def tool_names(value: str | list[str] | None) -> list[str]:
    """The names of a role's `tools:` (or `disallowedTools:`): a comma-separated text or a list."""
    if value is None:
        return []
    names = value.split(",") if isinstance(value, str) else [str(n) for n in value]
    return [n.strip() for n in names if n.strip()]


def ours(name: str) -> tuple[str, ...]:
    return CLAUDE_NAMES.get(name, (name,) if name in ALL else ())


def narrowed(name: str) -> str | None:
    """The tool a name narrowed to some uses (`Bash(git:*)`) names (`Bash`), or None."""
    base = name.partition("(")[0].strip()
    return base if name.endswith(")") and base in CLAUDE_NAMES else None


def tool_problem(name: str, claude_owned: bool = False, deny: bool = False) -> tuple[str, str] | None:
    """What is wrong with a name in a role's `tools:`, as (message, hint): a name that gives a step nothing
    (Claude Code's tools that agents does not model, a narrowed `Bash(...)`, an MCP tool, a typo); None for
    our names and Claude Code's that map to ours. `claude_owned`: the role is one of .claude/agents/,
    which Claude Code uses too."""
    if name in ALL or name in CLAUDE_NAMES:
        return None
    mapped = ", ".join([*CLAUDE_NAMES, *ALL])
    base = name.partition("(")[0].strip()
    if base in CLAUDE_ONLY or name.startswith("mcp__"):
        return (f"tool '{name}' is Claude Code's; agents gives a step no such tool",
                "keep it if Claude Code uses this subagent; a step of agents runs without it" if claude_owned
                else f"remove it; a step's tools are {mapped}")
    if narrowed(name):
        return (f"tool '{name}' narrows {base} to some uses, which agents cannot do: the step is not given {base}",
                f"write `{base}` to {'take all of it away' if deny else 'give the step all of it'}, or remove it")
    from agentfiles.core.typos import did_you_mean

    guess = did_you_mean(name, [*ALL, *CLAUDE_NAMES, *CLAUDE_ONLY])
    return (f"unknown tool '{name}'" + (f" - did you mean '{guess}'?" if guess else ""),
            f"a step's tools are {mapped} (Claude Code's names or agents')")
