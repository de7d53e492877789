"""`vmtui export`: the monitor's samples as a Prometheus endpoint, for fleets watched by Prometheus and Grafana.

The third face, beside the CLI and the TUI: it runs the same pollers (`vmtui.monitor.watch.Monitor`,
one per host, with their reconnect and backoff) and never talks to a host on a scrape.

- `families`: what is exported, and the one reading of the pollers' samples into series (pure).
- `render`: those series rendered by hand in the text format when a scrape will serve them, and the page.
- `state`: what the exporter knows about each host, fed by the monitor's events (thread-safe).
- `server`: the Monitor's driver thread, the Prometheus collector and the HTTP endpoint.

Never imports the TUI or the CLI (import-linter enforces it).
"""
