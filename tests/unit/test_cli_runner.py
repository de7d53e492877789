"""The one CLI runner and the one step printer (`vmtui.cli.runner`)."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from vmtui.cli.runner import AGAIN, STOPPING, run_op, step_printer, steps_with_spinner
from vmtui.errors import OperationError
from vmtui.ops.base import Progress, Step, UserCancelledError, check_cancel


def _ctrl_c_in(seconds: float) -> threading.Timer:
    """Ctrl-C to this process after `seconds`: SIGINT, which Python turns into KeyboardInterrupt on the main thread."""
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_the_result_and_the_steps_come_back() -> None:
    seen: list[str] = []

    def op(progress: Progress, cancel: threading.Event) -> int:
        progress(Step("one"))
        progress(Step("two"))
        return 42

    assert run_op(op, lambda step: seen.append(step.text)) == 42
    assert seen == ["one", "two"]


def test_an_error_is_raised_as_it_is() -> None:
    def op(progress: Progress, cancel: threading.Event) -> None:
        raise OperationError("the host said no")

    with pytest.raises(OperationError, match="^the host said no$"):
        run_op(op, lambda _s: None)


def test_ctrl_c_sets_the_cancel_and_waits_for_the_operation_to_stop(capsys: pytest.CaptureFixture[str]) -> None:
    stopped = threading.Event()

    def op(progress: Progress, cancel: threading.Event) -> None:
        cancel.wait(20)
        check_cancel(cancel, "slow thing")
        stopped.set()  # never: the cancel was seen

    timer = _ctrl_c_in(0.3)
    try:
        with pytest.raises(UserCancelledError, match="^slow thing: cancelled$"):
            run_op(op, lambda _s: None)
    finally:
        timer.cancel()
    assert not stopped.is_set()
    assert capsys.readouterr().err == STOPPING + "\n"


def test_an_operation_that_ends_after_ctrl_c_is_waited_for_and_its_result_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def op(progress: Progress, cancel: threading.Event) -> str:
        cancel.wait(20)
        # Past its last step: the change is made whatever the user pressed; the result says so.
        return "made"

    timer = _ctrl_c_in(0.3)
    try:
        assert run_op(op, lambda _s: None) == "made"
    finally:
        timer.cancel()
    assert "stopping after the current step" in capsys.readouterr().err


def test_the_second_ctrl_c_says_how_to_leave_and_the_third_leaves(capsys: pytest.CaptureFixture[str]) -> None:
    release = threading.Event()

    def stuck(progress: Progress, cancel: threading.Event) -> None:
        release.wait(30)  # a call that does not look at the cancel

    timers = [_ctrl_c_in(0.3), _ctrl_c_in(0.8), _ctrl_c_in(1.3)]
    try:
        with pytest.raises(KeyboardInterrupt):
            run_op(stuck, lambda _s: None)
    finally:
        release.set()
        for timer in timers:
            timer.cancel()
    assert capsys.readouterr().err == f"{STOPPING}\n{AGAIN}\n"


def test_steps_of_a_result_command_go_to_stderr_literally(capsys: pytest.CaptureFixture[str]) -> None:
    step_printer(False)(Step("detaching [b]nic[/b]"))
    out, err = capsys.readouterr()
    assert (out, err) == ("", "detaching [b]nic[/b]\n")


def test_steps_of_a_result_command_are_not_printed_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    step_printer(True)(Step("detaching"))
    assert capsys.readouterr() == ("", "")


def test_steps_that_are_the_output_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    step_printer(False, steps_are_output=True)(Step("step 1: nothing to move"))
    assert capsys.readouterr() == ("step 1: nothing to move\n", "")


def test_steps_that_are_the_output_are_json_lines_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    show = step_printer(True, steps_are_output=True)
    show(Step("step 1: one to move", data={"moves": 1}))
    show(Step("web1: 192 MiB -> 256 MiB"))
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"step": "step 1: one to move", "moves": 1},
        {"step": "web1: 192 MiB -> 256 MiB"},
    ]


def test_long_work_without_a_terminal_says_each_step_as_a_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with steps_with_spinner(False) as show:
        show(Step("lab1: starting libvirtd [x]"))
        show(Step("lab2: ready"))
    assert capsys.readouterr() == ("", "lab1: starting libvirtd [x]\nlab2: ready\n")


def test_long_work_with_json_says_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with steps_with_spinner(True) as show:
        show(Step("lab1: starting libvirtd"))
    assert capsys.readouterr() == ("", "")
