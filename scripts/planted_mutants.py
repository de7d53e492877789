"""Plant random single-point bugs in the ops rules by hand and see whether the unit tests catch each one.

    .venv/bin/python scripts/planted_mutants.py [--seed 25] [--count 12] [--modules vmtui/ops/busy.py ...]

A check on `make mutation` that does not reuse its mutants: every site where one token can change (a
comparison, an arithmetic operator, a number, min/max, and/or) in the modules below is listed, the issue's
own survivors are left out, and `count` sites are drawn with a fixed seed. Each is planted in a copy of
`vmtui/` (the worktree is never touched) and the unit tests of the ops rules run against it, first on the
copy unchanged (they must pass). Prints each mutant and its verdict, then killed / planted.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = (
    "vmtui/ops/migrate/forecast.py",
    "vmtui/ops/migrate/policy.py",
    "vmtui/ops/balloon_policy.py",
    "vmtui/ops/ksm_policy.py",
    "vmtui/ops/sizes.py",
    "vmtui/ops/place.py",
    "vmtui/ops/migrate/precheck.py",
)
TESTS = (
    "tests/unit/test_migrate_logic.py",
    "tests/unit/test_memory_policies.py",
    "tests/unit/test_forecast_by_hand.py",
    "tests/unit/test_stall_policy_by_hand.py",
    "tests/unit/test_balloon_policy_by_hand.py",
    "tests/unit/test_ksm_policy_by_hand.py",
    "tests/unit/test_sizes_by_hand.py",
    "tests/unit/test_place_by_hand.py",
    "tests/unit/test_precheck_verdicts.py",
    "tests/unit/test_migrate_outcome_by_hand.py",
    "tests/unit/test_busy_by_hand.py",
    "tests/unit/test_lifecycle_rules.py",
    "tests/unit/test_lifecycle_run.py",
    "tests/unit/test_lifecycle_elsewhere.py",
    "tests/unit/test_lifecycle_refuse_by_hand.py",
    "tests/unit/test_refusals_by_hand.py",
    "tests/unit/test_split_brain_by_hand.py",
)
SWAPS = {
    "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
    "+": "-", "-": "+", "*": "/", "/": "*", "//": "*",
    "min": "max", "max": "min", "and": "or", "or": "and", "True": "False", "False": "True",
}  # fmt: skip
ISSUE_SURVIVORS = {
    "vmtui/ops/migrate/forecast.py": ("first + rest / bandwidth_bps",),
    "vmtui/ops/sizes.py": ("not 0 <= float(match.group(1)) <= 100",),
    "vmtui/ops/ksm_policy.py": ("pressure = s.free_kib < threshold",),
    "vmtui/ops/balloon_policy.py": ("and desired > start[i]", "g.usable_kib > floor // 4"),
    "vmtui/ops/migrate/policy.py": ("self.stalls += 1", "self._stalled += 1"),
    "vmtui/ops/place.py": ("p.memory_after_kib / p.memory_total_kib", "is not None else 100.0"),
}
"""Lines holding the mutants the issue names: they were the motive for the tests, so they prove nothing here."""


@dataclass(frozen=True, slots=True)
class Site:
    module: str
    line: int
    col: int
    old: str
    new: str

    def plant(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        text = lines[self.line - 1]
        assert text[self.col : self.col + len(self.old)] == self.old
        lines[self.line - 1] = text[: self.col] + self.new + text[self.col + len(self.old) :]
        return "".join(lines)

    def __str__(self) -> str:
        return f"{self.module}:{self.line}:{self.col + 1}  {self.old!r} -> {self.new!r}"


def sites(module: str) -> list[Site]:
    source = (ROOT / module).read_text()
    lines = source.splitlines()
    skip = ISSUE_SURVIVORS.get(module, ())
    found = []
    previous = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        line = lines[tok.start[0] - 1] if tok.start[0] <= len(lines) else ""
        after_operator = previous is None or previous.type == tokenize.OP and previous.string not in (")", "]")
        unary = tok.string in ("+", "-") and after_operator
        if not any(s in line for s in skip) and not line.lstrip().startswith(("def ", "class ", "@")) and not unary:
            if tok.type in (tokenize.OP, tokenize.NAME) and tok.string in SWAPS:
                found.append(Site(module, tok.start[0], tok.start[1], tok.string, SWAPS[tok.string]))
            elif tok.type == tokenize.NUMBER and tok.string.isdigit():
                found.append(Site(module, tok.start[0], tok.start[1], tok.string, str(int(tok.string) + 1)))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = tok
    return found


def _env(copy: Path) -> dict[str, str]:
    # The copy first on the path, and not the worktree (PYTHONSAFEPATH: no current directory in front of
    # it). No bytecode: a mutant and its undoing can share a size and a second, and a stale .pyc would run.
    return {**os.environ, "PYTHONPATH": str(copy), "PYTHONSAFEPATH": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def imports_the_copy(copy: Path) -> bool:
    cmd = [sys.executable, "-c", "import vmtui.ops.sizes as m; print(m.__file__)"]
    out = subprocess.run(cmd, cwd=ROOT, env=_env(copy), capture_output=True, text=True, check=True).stdout
    return Path(out.strip()).is_relative_to(copy)


def tests_pass(copy: Path) -> bool:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not cli", *TESTS]
    return subprocess.run(cmd, cwd=ROOT, env=_env(copy), capture_output=True, check=False).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--modules", nargs="+", default=MODULES, help="paths (default: the ops rules above)")
    args = parser.parse_args()
    every = [s for m in args.modules for s in sites(m)]
    chosen = random.Random(args.seed).sample(every, args.count)
    with tempfile.TemporaryDirectory(prefix="planted-") as tmp:
        copy = Path(tmp)
        shutil.copytree(ROOT / "vmtui", copy / "vmtui", ignore=shutil.ignore_patterns("__pycache__"))
        if not imports_the_copy(copy):
            print("the tests would import the worktree's vmtui, not the copy", file=sys.stderr)
            return 2
        if not tests_pass(copy):
            print("the tests fail on the unchanged copy: nothing to measure", file=sys.stderr)
            return 2
        killed = 0
        for site in chosen:
            original = (ROOT / site.module).read_text()
            (copy / site.module).write_text(site.plant(original))
            caught = not tests_pass(copy)
            (copy / site.module).write_text(original)
            killed += caught
            print(f"{'killed  ' if caught else 'SURVIVED'}  {site}  | {original.splitlines()[site.line - 1].strip()}")
    print(f"{killed} / {len(chosen)} killed ({killed / len(chosen):.0%}) of {len(every)} sites, seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
