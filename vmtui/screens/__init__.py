"""Screens of the TUI: the fleet dashboard, a domain's details, and modals."""
