"""Widgets of the TUI. They render data handed to them and never import libvirt."""
