"""`scripts/mutation_report.py` judges mutmut's verdicts: a run in which no mutant was tried is no 100 %.

The meta files are written as mutmut 3 leaves them (`exit_code_by_key`: mutant -> the test run's exit
code, None when it was never run).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "mutation_report.py"


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_report", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _meta(root: Path, module: str, codes: Mapping[str, int | None]) -> None:
    path = root / f"{module}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_nine_killed_of_ten_meets_the_goal_and_eight_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 9/10 = 90 %, exactly the goal; 8/10 = 80 % is under it.
    _meta(tmp_path, "vmtui/a.py", {f"a_{i}": 1 for i in range(9)} | {"a_9": 0})
    assert _report().main(["vmtui/a.py"], tmp_path) == 0
    _meta(tmp_path, "vmtui/a.py", {f"a_{i}": 1 for i in range(8)} | {"a_8": 0, "a_9": 0})
    assert _report().main(["vmtui/a.py"], tmp_path) == 1
    assert "vmtui/a.py                             8     10  80.0%  2" in capsys.readouterr().out


def test_a_run_that_tried_no_mutant_fails_instead_of_scoring_100(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # mutmut stops before the first mutant when a selected test fails on the unmutated code ("failed to
    # collect stats"): every verdict stays None. That is no score at all.
    _meta(tmp_path, "vmtui/a.py", {"a_1": None, "a_2": None})
    assert _report().main(["vmtui/a.py"], tmp_path) == 1
    assert "no mutant of vmtui/a.py was tried" in capsys.readouterr().err
