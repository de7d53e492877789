"""Small facts about libvirt URIs. URIs are otherwise passed to libvirt untouched (aliases work)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SSH_TRANSPORTS = ("+ssh", "+libssh", "+libssh2")


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


def display_host(uri: str) -> str:
    """A short label for a URI: its host name, or 'localhost'."""
    return urlsplit(uri).hostname or "localhost"
