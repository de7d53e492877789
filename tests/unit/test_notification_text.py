"""Notification text (issue 27, item 4): a cut never splits a word, and a device change names both
halves, the one that took effect first. Expected strings written by hand."""

from __future__ import annotations

from vmtui.ops.changes import DeviceChange, done, failed, skipped
from vmtui.present import one_line


def test_a_long_line_is_cut_at_a_word_boundary() -> None:
    text = "Shut down web1: requested; the guest decides whether and when"
    assert one_line(text, 30, whole_words=True) == "Shut down web1: requested;…"
    assert one_line(text, 28, whole_words=True) == "Shut down web1: requested;…"
    # Exactly at a boundary: nothing of the next word.
    assert one_line("aaaa bbbb cccc", 10, whole_words=True) == "aaaa bbbb…"
    assert one_line("short", 10, whole_words=True) == "short"


def test_a_table_cell_is_still_cut_where_its_room_ends() -> None:
    assert one_line("Shut down web1: requested", 12) == "Shut down w…"


def test_a_single_long_word_is_still_cut_to_fit() -> None:
    # A path is one word: cut inside it rather than show nothing.
    assert (
        one_line("vda (/var/lib/libvirt/images/a-very-long-name.qcow2)", 20, whole_words=True) == "vda (/var/lib/libvi…"
    )


def test_a_partial_success_says_the_half_that_worked_first_and_both_in_full() -> None:
    change = DeviceChange(
        "qemu:///system",
        "web1",
        "u",
        "virtio-nic",
        "52:54:00:00:00:01",
        "e1000",
        "virtio",
        failed("the guest did not release NIC 52:54:00:00:00:01 within 20 s"),
        done("virtio from the next boot"),
    )
    assert change.summary() == (
        "virtio-nic 52:54:00:00:00:01 on web1: e1000 -> virtio; config: done (virtio from the next boot); "
        "live: failed (the guest did not release NIC 52:54:00:00:00:01 within 20 s)"
    )
    left_out = DeviceChange("h", "web1", "u", "add-nic", "nic", "-", "virtio", skipped("not asked"), done())
    assert left_out.summary() == "add-nic nic on web1: - -> virtio; config: done; live: skipped"
