"""Small facts about libvirt URIs. URIs are otherwise passed to libvirt untouched (aliases work)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vmtui.errors import UsageError

SSH_TRANSPORTS = ("+ssh", "+libssh", "+libssh2")
ALIAS_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
"""libvirt.conf uri_aliases names (libvirt accepts only these characters in an alias)."""
SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*$")
FORBIDDEN_URI_CHARS = frozenset(" \t\n\r\"'<>\\`{}|^")
"""Characters RFC 3986 never allows unescaped in a URI; a newline or a quote is a typo or an attack."""
REPLAY_SCHEME = "vmtui-replay"
"""One host of a recording (`vmtui.drivers.replay`), not a libvirt URI."""


def validate_uri(uri: str) -> str:
    """Refuse what libvirt could never open: an empty string, spaces, quotes, control characters,
    a malformed scheme or port. A `scheme://...` URI or an alias from libvirt.conf passes."""
    if not uri:
        raise UsageError("the URI must not be empty")
    bad = sorted({ch for ch in uri if ch in FORBIDDEN_URI_CHARS or not ch.isprintable()})
    if bad:
        raise UsageError(
            f"URI {uri!r} contains {', '.join(repr(c) for c in bad)}", hint="e.g. qemu+ssh://root@kvm1/system"
        )
    if "://" not in uri:
        if ALIAS_RE.match(uri):
            return uri  # an alias: libvirt resolves it from libvirt.conf
        raise UsageError(f"{uri!r} is not a libvirt URI", hint="e.g. qemu:///system or qemu+ssh://root@kvm1/system")
    parts = urlsplit(uri)
    if not SCHEME_RE.match(parts.scheme):
        raise UsageError(f"{uri!r}: {parts.scheme!r} is not a URI scheme", hint="e.g. qemu, qemu+ssh, test")
    try:
        _ = parts.port
    except ValueError as exc:
        raise UsageError(f"{uri!r}: the port is not a number from 1 to 65535") from exc
    return uri


def is_replay_uri(uri: str) -> bool:
    """Told here, without the replay module: opening a live host must not load the recording reader."""
    return uri.startswith(f"{REPLAY_SCHEME}://")


def is_ssh(uri: str) -> bool:
    scheme = urlsplit(uri).scheme
    return any(scheme.endswith(t) for t in SSH_TRANSPORTS)


def is_local(uri: str) -> bool:
    """True when the URI names this machine's own daemon (no host part, or a unix transport)."""
    parts = urlsplit(uri)
    if "+" in parts.scheme and not parts.scheme.endswith("+unix"):
        return False
    return not parts.hostname or parts.hostname in ("localhost",)


def with_no_tty(uri: str) -> str:
    """Add `no_tty=1` to ssh URIs so ssh fails fast instead of prompting on the terminal we own.

    The user's own value wins. Host-key checking is left exactly as the user's ssh config says.
    """
    if not is_ssh(uri):
        return uri
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "no_tty" for k, _ in query):
        return uri
    query.append(("no_tty", "1"))
    # libvirt wants URI-escaped parameter values; keep '/' readable for keyfile/command paths.
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))
