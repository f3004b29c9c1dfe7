"""Holds the compiled YAML fast path (cli/agentfiles/storage/fastyaml.py) to PyYAML on generated documents:
every document it answers must be what PyYAML builds (same data, same types, same key order), or PyYAML
must refuse nothing the fast path accepted. Prints how many documents the fast path answered and how many
of those answers were wrong, with the first few; asserts nothing.

Usage (with the project's .venv): .venv/bin/python bench/yaml_fuzz.py [--count 60000] [--seed 1]

Two generators: short flow and block documents made of scalars the two YAML versions read differently
(numbers, dates, words, indicators, anchors, line breaks PyYAML knows), and nested block mappings with
block scalars, comments, quoted keys and lists. A form found wrong belongs in tests/storage/test_fastyaml.py.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

import yaml
from agentfiles.storage.fastyaml import fast_load

ATOMS = ["1", "0", "01", "1e5", "1E+5", "1.5e-3", ".5", "-.5", "._5", "1_0", "0x1F", "0o7", "0b1", "1:30", "2026-01-05",
         "yes", "No", "on", "~", "null", "true", "x", "abc", "'q'", '"d"', "'1e5'", "a b", "#c", "- x", "[1, 2]",
         "{a: 1}", ".inf", "-.Inf", ".nan", "+1", "-0", "0.", "1.", "!x", "&a", "*a", "@x", "`x`", "%x", "|", ">", "'",
         '"', "\\", ":", "\u00e9", "\u2028", "\x85", "\u00a0", "x:y", "x: y", "1.0e+5", "1.0e5", "+.5", "0_1", "|-",
         ">+", "'it''s'", '"\\u263A"', "? x", "!!str 1", "&a x", "\t", "x\ty"]


def flat(rng: random.Random) -> str:
    lines = []
    for i in range(rng.randint(1, 3)):
        value = " ".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 2)))
        lines.append(rng.choice([f"k{i}: {value}", f"k{i}: [{value}, {rng.choice(ATOMS)}]", f"k{i}:\n  - {value}",
                                 f"k{i}: {{x: {value}}}"]))
    return "\n".join(lines) + "\n"


def nested(rng: random.Random, depth: int = 0) -> str:
    ind = "  " * depth
    out = []
    for i in range(rng.randint(1, 3)):
        kind = rng.randint(0, 5)
        key = rng.choice([f"k{i}", f"'k{i}'", f'"k {i}"', "on", "1"])
        if kind == 0 and depth < 2:
            out.append(f"{ind}{key}:\n" + nested(rng, depth + 1).rstrip("\n"))
        elif kind == 1:
            out.append(f"{ind}{key}: |\n{ind}  line {rng.choice(ATOMS)}\n{ind}  {rng.choice(ATOMS)}")
        elif kind == 2:
            out.append(f"{ind}{key}: >-\n{ind}  {rng.choice(ATOMS)}\n\n{ind}  more")
        elif kind == 3 and depth < 2:
            out.append(f"{ind}{key}:\n" + "\n".join(f"{ind}- {rng.choice(ATOMS)}" for _ in range(rng.randint(1, 3))))
        elif kind == 4:
            out.append(f"{ind}{key}: {rng.choice(ATOMS)} {rng.choice(ATOMS)}  # note")
        else:
            out.append(f"{ind}{key}: {rng.choice(ATOMS)}")
    return "\n".join(out) + "\n"


def pyyaml(text: str) -> tuple[Any, str | None]:
    try:
        return yaml.load(text, Loader=yaml.SafeLoader), None
    except yaml.YAMLError as exc:
        return None, type(exc).__name__


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60000, help="documents from each generator")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for name, make in (("flat", flat), ("nested", nested)):
        answered = wrong = 0
        for _ in range(args.count):
            text = make(rng)
            fast = fast_load(text)
            if fast is None:
                continue
            answered += 1
            expected, error = pyyaml(text)
            if error or repr(expected) != repr(fast):
                wrong += 1
                if wrong <= 40:
                    print(f"  wrong: {text!r}: fast {fast!r}, PyYAML {error or repr(expected)}")
        print(f"{name}: {args.count} documents, {answered} answered by the fast path, {wrong} of them wrong")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
