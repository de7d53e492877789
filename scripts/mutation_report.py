"""Per-module score of the last `mutmut run` (read from mutants/**/*.py.meta), and the survivors.

    make mutation                                     # runs mutmut over every module, then this
    make mutation MODULES="vmtui/ops/sizes.py ..."    # only those modules' mutants, then this for them

Killed = a test failed on the mutant (timeouts count as killed: the mutant made the code hang).
The score is killed / (all mutants but those mutmut skipped). Exit 1 when a module is below GOAL, or
when none of its mutants was tried (mutmut failed before the first).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

GOAL = 0.90
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def main(modules: list[str], root: Path = Path("mutants")) -> int:
    """Report `modules` (paths as in `only_mutate`), or every module mutmut mutated when none is named."""
    metas = sorted(root.rglob("*.py.meta"))
    if modules:
        wanted = {root / f"{m}.meta" for m in modules}
        missing = sorted(str(m.relative_to(root)).removesuffix(".meta") for m in wanted - set(metas))
        if missing:
            print(f"not mutated (missing from only_mutate?): {', '.join(missing)}", file=sys.stderr)
            return 2
        metas = [m for m in metas if m in wanted]
    if not metas:
        print("no mutmut results: run `make mutation` first", file=sys.stderr)
        return 2
    below = False
    print(f"{'module':<32} {'killed':>7} {'total':>6} {'score':>6}  survivors")
    for meta in metas:
        module = str(meta.relative_to(root)).removesuffix(".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(
            "killed" if c in KILLED else "survived" if c in SURVIVED else "no tests" if c in NO_TESTS else
            "skipped" if c in SKIPPED else "not checked" if c is None else "other"
            for c in codes.values()
        )  # fmt: skip
        total = sum(counts.values()) - counts["not checked"] - counts["skipped"]
        if not total:
            # mutmut stopped before its first mutant (a selected test failed on the unmutated code: "failed
            # to collect stats"): no score, not 100 %.
            print(f"no mutant of {module} was tried: see mutmut's output above", file=sys.stderr)
            below = True
        score = counts["killed"] / total if total else 0.0
        below |= score < GOAL
        survivors = sorted(k for k, c in codes.items() if c not in KILLED | SKIPPED and c is not None)
        print(f"{module:<32} {counts['killed']:>7} {total:>6} {score:>6.1%}  {len(survivors)}")
        for name in survivors:
            print(f"    {name}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
