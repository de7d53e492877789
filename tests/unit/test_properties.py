"""Properties that hold for any input: the metric maths over any counters, the XML builder over any name.

hypothesis generates the inputs; the builder's output goes through libvirt's own parser and schema
(the test driver, real libvirt code, with VIR_DOMAIN_DEFINE_VALIDATE).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vmtui.drivers import connect
from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.drivers.xml.read import read_domain_xml
from vmtui.errors import UsageError
from vmtui.metrics import domain_metrics, rate
from vmtui.models import DomainStats

counter = st.integers(min_value=0, max_value=2**62)
elapsed = st.floats(min_value=1e-3, max_value=1e5, allow_nan=False)


@given(a=counter, b=counter, dt=elapsed)
def test_a_rate_is_the_growth_over_time_or_nothing_when_the_counter_went_back(a: int, b: int, dt: float) -> None:
    got = rate({"c": a}, {"c": b}, "c", dt)
    if b < a:
        assert got is None  # a reset (restart, migration) is not a negative rate
    else:
        assert got is not None
        assert math.isclose(got, (b - a) / dt, rel_tol=1e-12)


@given(a=counter, b=counter)
def test_no_rate_over_no_time(a: int, b: int) -> None:
    assert rate({"c": a}, {"c": b}, "c", 0.0) is None
    assert rate(None, {"c": b}, "c", 1.0) is None


def _stats(cpu: int, vcpus: list[tuple[int, int]]) -> DomainStats:
    raw: dict[str, int] = {"state.state": 1, "cpu.time": cpu, "vcpu.current": len(vcpus)}
    for i, (run, delay) in enumerate(vcpus):
        raw[f"vcpu.{i}.time"] = run
        raw[f"vcpu.{i}.delay"] = delay
    return DomainStats("u", "d", MappingProxyType(raw))


@settings(max_examples=300)
@given(
    cpu=st.tuples(counter, counter),
    vcpus=st.lists(st.tuples(counter, counter, counter, counter), min_size=1, max_size=4),
    dt=elapsed,
    host_cpus=st.integers(min_value=1, max_value=256),
)
def test_cpu_figures_stay_within_their_bounds_for_any_counters(
    cpu: tuple[int, int], vcpus: list[tuple[int, int, int, int]], dt: float, host_cpus: int
) -> None:
    before = _stats(cpu[0], [(v[0], v[2]) for v in vcpus])
    after = _stats(cpu[1], [(v[1], v[3]) for v in vcpus])
    m = domain_metrics(before, after, dt, host_cpus=host_cpus)
    if cpu[1] < cpu[0]:
        assert m.cpu_pct is None
    else:
        assert m.cpu_pct is not None
        assert 0.0 <= m.cpu_pct <= 100.0 * host_cpus
        assert m.cpu_host_pct is not None
        assert 0.0 <= m.cpu_host_pct <= 100.0
    if m.overhead_pct is not None:
        assert m.overhead_pct >= 0.0
    for v in m.vcpus:
        for figure in (v.cpu_pct, v.steal_pct):
            assert figure is None or 0.0 <= figure <= 100.0
    assert m.steal_pct is None or 0.0 <= m.steal_pct <= 100.0


@pytest.fixture(scope="module")
def parser() -> Iterator[Connection]:
    """libvirt's own parser and schema, over the test driver (no host is changed)."""
    with connect("test:///default") as conn:
        yield conn


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=0, max_size=60), disk=st.text(min_size=0, max_size=40))
@example(name="x", disk="/")  # the bare root: libvirt's schema refuses it, so vmtui must first
@example(name="x", disk="/.")
def test_any_name_and_path_round_trip_through_libvirt_or_are_refused_before_any_call(
    parser: Connection, name: str, disk: str
) -> None:
    spec = GuestSpec(name=name, domain_type="qemu", disk=Path("/var/lib/vmtui") / disk if disk else None)
    try:
        xml = build_guest_xml(spec)
    except UsageError:
        return  # refused before any call: nothing reached libvirt
    assert "\x00" not in name
    back = read_domain_xml(xml)
    assert back.name == name  # lxml escaped whatever needed it
    # libvirt's own parser and RelaxNG schema accept it, and give the same name back.
    import libvirt

    try:
        dom = parser._conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    except libvirt.libvirtError as exc:
        pytest.fail(f"built XML that libvirt refuses for name {name!r}, disk {disk!r}: {exc}")
    try:
        assert read_domain_xml(dom.XMLDesc(0)).name == name
    finally:
        dom.undefine()
