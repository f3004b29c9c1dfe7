"""Mutation testing of one module: how many small faults planted in it do the chosen tests notice?

Each mutant changes one thing in the chosen functions (a comparison flipped, `and` for `or`, a `not`
dropped, a constant changed, a statement removed, a return value replaced by None). The package and
the tests are copied to a scratch folder once (edits made during a run change nothing of it); for each
mutant the copy gets the mutated module and the tests run from it, the copy first on PYTHONPATH so the
editable install is shadowed, in programs the tests start too. A mutant is killed when the tests fail.
The survivors are printed so that a person can tell a missing test from an equivalent mutant.

Usage (from the repository, after `python3 dev.py test` made .venv):

    .venv/bin/python bench/mutation.py cli/agentfiles/core/paths.py \\
        --functions check_repo_path,normalize_repo_path --tests tests/core/test_paths.py

Prints figures; asserts nothing. `--list` prints the mutants without running them.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cli" / "agentfiles"

_FLIP = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}


@dataclass
class Mutant:
    number: int
    line: int
    what: str


class _Mutator(ast.NodeTransformer):
    """Walks the chosen functions; counts mutation points, and applies the one numbered `target`."""

    def __init__(self, functions: set[str] | None, target: int = -1) -> None:
        self.functions = functions
        self.target = target
        self.count = 0
        self.found: list[Mutant] = []
        self.inside = 0

    def _point(self, node: ast.AST, what: str) -> bool:
        """Register a mutation point; True when it is the one to apply."""
        number = self.count
        self.count += 1
        self.found.append(Mutant(number, getattr(node, "lineno", 0), what))
        return number == self.target

    def _visit_function(self, node: ast.FunctionDef) -> ast.AST:
        chosen = self.functions is None or node.name in self.functions
        self.inside += chosen
        node.body = self._statements(node.body) if chosen else node.body
        self.generic_visit(node)
        self.inside -= chosen
        return node

    visit_FunctionDef = _visit_function  # noqa: N815
    visit_AsyncFunctionDef = _visit_function  # type: ignore[assignment]  # noqa: N815

    def _statements(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """Statement removal: each statement (but a docstring) replaced by `pass`, one at a time."""
        out: list[ast.stmt] = []
        for index, stmt in enumerate(body):
            docstring = index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            if not docstring and not isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and self._point(
                stmt, f"remove `{ast.unparse(stmt).splitlines()[0][:60]}`"
            ):
                out.append(ast.copy_location(ast.Pass(), stmt))
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(stmt, field, self._statements(inner))
            out.append(stmt)
        return out

    def visit_Compare(self, node: ast.Compare) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        if self.inside:
            for index, op in enumerate(node.ops):
                flipped = _FLIP.get(type(op))
                shown = ast.unparse(node)[:60]
                if flipped and self._point(node, f"{type(op).__name__} -> {flipped.__name__} in `{shown}`"):
                    node.ops[index] = flipped()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        if self.inside and self._point(node, f"and/or swapped in `{ast.unparse(node)[:60]}`"):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        dropped = isinstance(node.op, ast.Not)
        if self.inside and dropped and self._point(node, f"`not` dropped in `{ast.unparse(node)[:60]}`"):
            return node.operand
        return node

    def visit_If(self, node: ast.If) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        if self.inside and self._point(node, f"condition negated: `if {ast.unparse(node.test)[:60]}`"):
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        if self.inside and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None
        ) and self._point(node, f"`{ast.unparse(node)[:60]}` -> `return None`"):
            node.value = ast.Constant(None)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:  # noqa: N802
        if not self.inside:
            return node
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} -> {not value}"):
                return ast.Constant(not value)
        elif isinstance(value, int):
            if self._point(node, f"{value} -> {value + 1}"):
                return ast.Constant(value + 1)
        elif isinstance(value, str) and len(value) < 80 and self._point(node, f"{value!r} -> 'XX' + it"):
            return ast.Constant("XX" + value)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:  # noqa: N802
        return node  # messages: their wording is not what is tested here

    def visit_Expr(self, node: ast.Expr) -> ast.AST:  # noqa: N802
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node  # a docstring
        self.generic_visit(node)
        return node


def mutants_of(source: str, functions: set[str] | None) -> list[Mutant]:
    walker = _Mutator(functions)
    walker.visit(ast.parse(source))
    return walker.found


def mutated(source: str, functions: set[str] | None, number: int) -> str:
    tree = ast.parse(source)
    _Mutator(functions, number).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def scratch_copy(into: Path) -> Path:
    """A copy of the package (templates included, as the wheel lays them out), the tests and the pytest
    settings under `into`, so that edits made while mutants run change nothing of the run."""
    target = into / "agentfiles"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PACKAGE, target, ignore=skip)
    shutil.copytree(ROOT / "templates", target / "templates", ignore=skip)
    shutil.copytree(ROOT / "tests", into / "tests", ignore=skip)
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")
    return target


def run_tests(pythonpath: Path, tests: list[str], timeout: float) -> bool:
    """True when the tests (copied under `pythonpath`) pass against the package there."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=pythonpath, env=env, capture_output=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False  # a mutant that hangs the tests is noticed
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="the module to mutate, e.g. cli/agentfiles/core/paths.py")
    parser.add_argument("--functions", help="comma-separated function names (default: every function)")
    parser.add_argument("--tests", nargs="+", required=True, help="pytest arguments selecting the tests")
    parser.add_argument("--sample", type=int, help="run only this many mutants, drawn at random")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant's test run")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args()

    module = (ROOT / args.module).resolve()
    relative = module.relative_to(PACKAGE)
    functions = set(args.functions.split(",")) if args.functions else None
    source = module.read_text(encoding="utf-8")
    found = mutants_of(source, functions)
    if args.list:
        for m in found:
            print(f"#{m.number:<4} line {m.line:<4} {m.what}")
        return 0
    chosen = found
    if args.sample:
        drawn = random.Random(args.seed).sample(found, min(args.sample, len(found)))
        chosen = sorted(drawn, key=lambda m: m.number)
    with tempfile.TemporaryDirectory(prefix="agents-mutation-") as scratch:
        base = Path(scratch)
        target = scratch_copy(base) / relative
        start = time.perf_counter()
        if not run_tests(base, args.tests, args.timeout):
            print("the tests fail on the unmutated module: fix that first", file=sys.stderr)
            return 2
        baseline = time.perf_counter() - start
        print(f"{len(chosen)} mutants of {args.module} (of {len(found)}); the tests take {baseline:.1f} s")
        survivors = []
        for m in chosen:
            target.write_text(mutated(source, functions, m.number), encoding="utf-8")
            if run_tests(base, args.tests, max(args.timeout, baseline * 5)):
                survivors.append(m)
                print(f"  survived #{m.number} line {m.line}: {m.what}", flush=True)
        target.write_text(source, encoding="utf-8")
    killed = len(chosen) - len(survivors)
    print(f"killed {killed} of {len(chosen)} mutants: {100 * killed / max(1, len(chosen)):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
