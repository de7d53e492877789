"""The filter language shared by the TUI's / line and the CLI's --filter."""

from __future__ import annotations

import pytest

from vmtui.errors import UsageError
from vmtui.filters import parse_filter


def test_terms_are_anded_and_words_form_a_case_insensitive_regex() -> None:
    f = parse_filter("state:run host:LAB1 web-[0-9]+")
    assert f.matches(host="lab1", name="Web-12", state="running")
    assert not f.matches(host="lab2", name="web-12", state="running")
    assert not f.matches(host="lab1", name="web-12", state="paused")
    assert not f.matches(host="lab1", name="db-1", state="running")


def test_repeated_terms_mean_any_of_them() -> None:
    f = parse_filter("state:paused state:shut host:a host:b")
    assert f.matches(host="b", name="x", state="shut-off")
    assert f.matches(host="a", name="x", state="paused")
    assert not f.matches(host="c", name="x", state="paused")
    assert not f.matches(host="a", name="x", state="running")


def test_host_is_exact_not_a_prefix() -> None:
    assert not parse_filter("host:lab").matches(host="lab1", name="x", state="running")


def test_empty_filter_keeps_everything() -> None:
    assert parse_filter("  ").matches(host="h", name="", state="crashed")


def test_invalid_regex_is_literal_while_typing_and_an_error_on_the_command_line() -> None:
    assert parse_filter("web(").matches(host="h", name="my-web(1)", state="running")
    assert parse_filter("web(").problems == (
        "'web(' is not a valid regex (missing ), unterminated subpattern at position 3); matched as plain text",
    )
    with pytest.raises(UsageError, match="not a valid regex"):
        parse_filter("web(", strict=True)


def test_a_state_nothing_can_be_in_or_an_unknown_key_is_said() -> None:
    assert parse_filter("STATE:Run").problems == ()  # case-insensitive, a prefix of running
    bogus = parse_filter("state:bogus")
    assert bogus.problems[0].startswith("no domain is ever 'bogus'")
    assert not bogus.matches(host="h", name="x", state="running")
    with pytest.raises(UsageError, match="no domain is ever 'bogus'"):
        parse_filter("state:bogus", strict=True)
    odd = parse_filter("foo:bar")
    assert odd.problems == ("foo: is not a filter key (state:, host:); searched as text",)
    assert odd.matches(host="h", name="x-foo:bar", state="running")
    with pytest.raises(UsageError, match="foo: is not a filter key"):
        parse_filter("foo:bar", strict=True)


def test_a_host_named_by_its_uri_can_be_filtered() -> None:
    # `vmtui -c qemu:///system` names the host by its URI: everything after the first ':' is the value.
    f = parse_filter("host:qemu:///system")
    assert f.hosts == ("qemu:///system",)
    assert f.matches(host="qemu:///system", name="x", state="running")
    assert not f.matches(host="lab1", name="x", state="running")


def test_the_state_problem_lists_the_states_a_domain_can_be_in() -> None:
    assert parse_filter("state:bogus").problems == (
        "no domain is ever 'bogus' (states: running, blocked, paused, shutting-down, shut-off, crashed, pmsuspended)",
    )


def test_only_a_word_before_a_colon_can_be_a_mistyped_key() -> None:
    # A plain word is a name search, a time-like or dashed text before ':' is searched as it is.
    for text in ("web", "web-1:x", "10:30", ":x"):
        assert parse_filter(text, strict=True).problems == (), text
    assert parse_filter("web-1:x").matches(host="h", name="old-web-1:x", state="running")


def test_several_words_are_one_pattern_with_their_spaces() -> None:
    f = parse_filter("my vm")
    assert f.matches(host="h", name="My VM 2", state="running")
    assert not f.matches(host="h", name="my-vm", state="running")


def test_an_invalid_regex_taken_literally_still_filters_and_ignores_case() -> None:
    f = parse_filter("WEB(")
    assert f.matches(host="h", name="my-web(1)", state="running")
    assert not f.matches(host="h", name="db", state="running")
    assert not f.matches(host="h", name="web", state="running")
