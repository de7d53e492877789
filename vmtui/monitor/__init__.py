"""Watching hosts, free of any UI: the collector, one poller per host, and the events they report.

The TUI wraps these events in Textual messages; `vmtui top`, `record` and `export` consume the same
pollers through `Monitor`. See `vmtui.monitor.poller` for the threading contract.
"""
