"""The checks of the roles a task names: its doer, verifiers and participants, the verifier panel and
sampling, label routing, and each role's tools."""

from __future__ import annotations

from agentfiles.core.checker import Checker, item_of
from agentfiles.core.models import Task
from agentfiles.core.project import Entry
from agentfiles.core.routing import RouteProblem, route_by_labels


class RoleChecks(Checker):
    def roles(self, task_id: str, entry: Entry[Task]) -> None:
        task = entry.model
        roles_hint = "see `agents roles` for the registry, or create one with `agents new role NAME`"
        judges = self.project.verifiers_of(task)
        if task.role and task.role not in self.known_roles:
            self.error(entry, ("role",), self.unknown("role", task.role, self.known_roles), roles_hint)
        for key, name in (("role", task.role), *(("verifier", j) for j in judges)):
            if name and name in self.project.broken_roles and name not in self.project.roles:
                verb, why, hint = self.project.role_problem(name)
                self.error(entry, (key,), f"role '{name}' {verb}, so this task cannot run" + (f": {why}" if why else ""),
                           hint or "fix the role file (`agents roles` says what is wrong with it)")
        for index, name in enumerate(task.verifiers):
            if name not in self.known_roles:
                self.error(entry, item_of("verifier", task.verifier, index),
                           self.unknown("verifier role", name, self.known_roles), roles_hint)
        if task.role and task.role in judges:
            self.error(
                entry,
                ("verifier",) if task.verifier else ("role",),
                f"the verifier '{task.role}' is the doer's own role; the doer must not mark its own homework",
                "name a different role under `verifier:`",
            )
        self.consensus(entry, judges)
        if task.prose_criteria and task.verifier == []:
            self.error(entry, ("verifier",), "`verifier: []` names no judge, and the task has prose acceptance "
                       "criteria that only a verifier judges", "name a role, drop `verifier:` to use the config's "
                       "default, or move the sentences into the intent")
        elif task.prose_criteria and not judges and self.project.config_entry is not None:
            # Not when the config did not load: its default verifier is unknown, and its error says why.
            self.warning(
                entry,
                ("acceptance",),
                "prose acceptance criteria but no verifier to judge them",
                "set `verifier:` in the task, or a default `verifier:` in .agents/config.yaml",
            )
        for index, name in enumerate(task.participants):
            if name not in self.known_roles:
                self.error(
                    entry, ("participants", index,), self.unknown("participant role", name, self.known_roles),
                    roles_hint,
                )
        if task.select is not None and task.route == "labels":
            # The verifiers are never candidates: the doer must not be its own checker.
            roles = {name: e.model for name, e in self.project.roles.items() if name not in judges}
            decision = route_by_labels(task.select, roles)
            if isinstance(decision, RouteProblem):
                shown = ", ".join(f"{c.role} ({c.score:g})" for c in decision.candidates[:6]) or "no roles"
                self.error(
                    entry,
                    ("select",),
                    f"{decision.message}; candidates: {shown}",
                    "adjust the labels, give the task a `role:`, or set `route: model` to let a router decide",
                )

    def role_tools(self) -> None:
        """Each name of a role's `tools:` and `disallowedTools:` gives or takes a tool of a step: another is an
        error, or a warning in a role of .claude/agents/, which Claude Code owns (its other tools are
        Claude Code's to use, not agents')."""
        from agentfiles.core.tool_names import tool_names, tool_problem

        for entry in self.project.roles.values():
            claude_owned = entry.origin == ".claude/agents"
            report = self.warning if claude_owned else self.error
            for key in ("tools", "disallowedTools"):
                for name in tool_names(getattr(entry.model, key)):
                    problem = tool_problem(name, claude_owned, deny=key == "disallowedTools")
                    if problem:
                        report(entry, (key,), f"`{key}`: {problem[0]}", problem[1])

    def consensus(self, entry: Entry[Task], judges: list[str]) -> None:
        """A verifier panel and sampling: each judge once; `agree` and `compare: verifier` need what they
        decide between."""
        task = entry.model
        twice = sorted({j for j in judges if judges.count(j) > 1})
        if twice:
            self.error(entry, ("verifier",), f"the verifier panel names {', '.join(twice)} more than once",
                       "name each role once: a second vote of the same role in the same context adds nothing")
        if "agree" in task.fields_set and len(judges) < 2:
            self.warning(entry, ("agree",), "`agree` decides between the judges of a panel, and this step "
                         "has at most one verifier", "list several roles under `verifier:`, or drop `agree`")
        if len(judges) == 2 and task.agree == "majority":
            self.warning(entry, ("agree",), "a panel of two has no majority when its judges disagree: "
                         "`agree: majority` acts as `all`", "add a third judge, or say `agree: all`")
        if task.samples == 2:
            self.warning(entry, ("samples",), "two samples that disagree have no majority: any difference "
                         "leaves the step `uncertain`", "take `samples: 3` (or more) for a majority to decide")
        if task.compare == "verifier" and task.samples > 1 and not judges:
            self.error(entry, ("compare",), "`compare: verifier` asks a verifier which samples mean the "
                       "same, and this step has none", "set `verifier:` (with prose `acceptance:`), or `compare: bytes`")
        if task.compare == "verifier" and task.samples < 2:
            self.warning(entry, ("compare",), "`compare` applies to `samples`, and this step takes one",
                         "set `samples: 3` (or more), or drop `compare`")
