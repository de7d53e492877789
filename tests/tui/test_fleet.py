"""The UI-thread fleet state: history survives samples from several hosts arriving in turn."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.metric_samples import sample_metrics
from vmtui.drivers.replay import Recording
from vmtui.metrics import host_metrics
from vmtui.monitor.collector import Tick
from vmtui.tui.fleet import Fleet

FIXTURE = Path(__file__).parent.parent / "fixtures" / "qemu-kvm-tcg-3guests.jsonl"


def test_history_of_one_host_survives_samples_of_another() -> None:
    rec = Recording(FIXTURE)
    (host,) = rec.hosts
    samples = rec.samples[host]
    domains = {d.uuid: d for d in rec.domains[host]}
    # The same recording stands in for a second host whose domains have other UUIDs.
    other = {f"other-{u}": replace(d, uuid=f"other-{u}") for u, d in domains.items()}

    def other_sample(i: int):  # type: ignore[no-untyped-def]
        s = samples[i]
        return replace(s, host="b", domains=tuple(replace(d, uuid=f"other-{d.uuid}") for d in s.domains))

    fleet = Fleet([("a", False), ("b", False)])
    for i in range(1, len(samples)):
        a_prev, a_cur = samples[i - 1], samples[i]
        fleet.sampled(
            "a", Tick(a_cur, host_metrics(a_prev, a_cur), sample_metrics(a_prev, a_cur, host_cpus=2)), domains
        )
        b_prev, b_cur = other_sample(i - 1), other_sample(i)
        fleet.sampled("b", Tick(b_cur, host_metrics(b_prev, b_cur), sample_metrics(b_prev, b_cur, host_cpus=2)), other)
    for uuid in [*domains, *other]:
        assert len(fleet.history[uuid]) == len(samples) - 1


def test_history_of_a_vanished_domain_is_dropped() -> None:
    rec = Recording(FIXTURE)
    (host,) = rec.hosts
    s0, s1, s2 = rec.samples[host][:3]
    domains = {d.uuid: d for d in rec.domains[host]}
    fleet = Fleet([("a", False)])
    fleet.sampled("a", Tick(s1, host_metrics(s0, s1), sample_metrics(s0, s1, host_cpus=2)), domains)
    gone = s2.domains[0].uuid
    s2_less = replace(s2, domains=s2.domains[1:])
    fewer = {u: d for u, d in domains.items() if u != gone}
    fleet.sampled("a", Tick(s2_less, host_metrics(s1, s2_less), sample_metrics(s1, s2_less, host_cpus=2)), fewer)
    assert gone not in fleet.history
    assert all(u in fleet.history for u in fewer)
