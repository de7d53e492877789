"""A one-shot reading (`top --count 1`, `stats`) waits for records with rates: a domain that another client
was querying (libvirt's NOWAIT answers it half, "busy") has no base for rates until its next whole record.
Seen in a two-worker suite run: `top --json --count 1` printed `cpu_pct: null` for a guest a TUI test polled."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from vmtui.cli import domains, top


def _sampled(*domains_: tuple[str, float | None]) -> Any:
    metrics = {f"u{i}": SimpleNamespace(state=state, cpu_pct=cpu) for i, (state, cpu) in enumerate(domains_)}
    return SimpleNamespace(tick=SimpleNamespace(domains=metrics))


def test_top_shows_a_hosts_sample_once_its_running_domains_have_rates() -> None:
    assert not top._has_rates(_sampled(("running", 3.0)), 1)  # the first sample is the base only
    assert top._has_rates(_sampled(("running", 3.0), ("shut-off", None)), 2)  # shut off: no rates, ever
    assert not top._has_rates(_sampled(("running", 3.0), ("running", None)), 2)  # busy at first sight
    assert not top._has_rates(_sampled(("paused", None)), 4)
    assert top._has_rates(_sampled(("running", None)), 5)  # busy all along: shown, not waited for forever


class _Conn:
    """Answers the host's samples in turn: the domain's record busy (half) `busy_for` times, then whole."""

    def __init__(self, busy_for: int) -> None:
        self.busy_for = busy_for
        self.asked = 0

    def sample(self, _host: str) -> Any:
        self.asked += 1
        busy = self.asked <= self.busy_for
        return SimpleNamespace(domains=[SimpleNamespace(uuid="other", busy=True), SimpleNamespace(uuid="u", busy=busy)])


def test_stats_asks_again_for_a_whole_record_and_takes_what_comes_after_ten() -> None:
    conn = _Conn(busy_for=2)
    sample = domains._whole_sample(cast(Any, conn), "h", "u")
    assert (conn.asked, [d.busy for d in sample.domains if d.uuid == "u"]) == (3, [False])
    never = _Conn(busy_for=99)
    domains._whole_sample(cast(Any, never), "h", "u")
    assert never.asked == 10  # 1 s at most: then the half record is what there is
    whole = _Conn(busy_for=0)
    domains._whole_sample(cast(Any, whole), "h", "u")
    assert whole.asked == 1  # another domain's busy record is not this one's business
