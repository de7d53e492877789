"""Every change vmtui makes to a host or a domain: one blocking function each, shared by the CLI and the TUI.

No Textual, typer or rich in here (import-linter enforces it). See `vmtui.ops.base` for the shape:
a `progress` callback, a cancel Event, a result value, and refusals before any call.
"""
