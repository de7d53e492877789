"""The HTTP side: the fleet's pre-rendered page and prometheus-client's WSGI app behind a threaded server.

A fleet's page is large (1000 domains with 4 vCPUs each: ~70 000 series, ~10 MB of text), so the fleet's
series are rendered by hand at poll time (`vmtui.export.render`) and a scrape only serves them. The rest is
prometheus-client's, as every Python exporter has it: its WSGI app answers (methods, content type) and
renders its own collectors (process, platform, GC), appended after the fleet's series. Two choices of ours:

- the text format 0.0.4 is always served: Prometheus asks for OpenMetrics first, a second format the page
  would have to be rendered in too, and vmtui uses nothing OpenMetrics adds (exemplars, created times);
- gzip at level 1 instead of the library's level 9: a ninth of the CPU for a page about 30 % larger, made
  once per change of the page and reused by every scrape until then (`render.Page.gzipped`).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import gzip_accepted

from vmtui.export.render import Page


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Prometheus scrapes every few seconds: no line per request on stderr."""


METRICS_PATHS = frozenset({"/metrics", "/"})
"""Where the metrics are served: /metrics, and / as it always was. Any other path is a 404, so a typo in a
scrape config (`/metric`) shows as a failed target instead of a healthy one."""
NOT_FOUND = b"404 not found: the metrics are at /metrics\n"


def metrics_app(registry: CollectorRegistry, fleet: Callable[[bytes], Page]) -> WSGIApplication:
    """/metrics: `fleet(tail)` (the fleet's page, then `tail`) where `tail` is the registry's own text."""
    inner = make_wsgi_app(registry, disable_compression=True)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") not in METRICS_PATHS:
            start_response(
                "404 Not Found",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(NOT_FOUND)))],
            )
            return [NOT_FOUND]
        text_only = {k: v for k, v in environ.items() if k != "HTTP_ACCEPT"}
        reply: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], _exc_info: object = None) -> Any:
            reply.update(status=status, headers=headers)
            return lambda _data: None

        own = b"".join(inner(text_only, capture))
        headers = list(reply["headers"])
        if not (environ.get("REQUEST_METHOD") == "GET" and reply["status"].startswith("200")):
            start_response(reply["status"], headers)
            return [own]
        page = fleet(own)
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = [page.gzipped()]
            headers.append(("Content-Encoding", "gzip"))
        else:
            body = page.plain()
        headers.append(("Content-Length", str(sum(len(b) for b in body))))
        start_response(reply["status"], headers)
        return body

    return app


def serve(host: str, port: int, app: WSGIApplication) -> WSGIServer:
    """A threaded WSGI server on `host:port` (IPv4 or IPv6), serving from a daemon thread."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        """A scrape in progress never holds the exporter's exit."""
        address_family = family

    httpd = make_server(host, port, app, server_class=Server, handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, name="export-http", daemon=True).start()
    return httpd
