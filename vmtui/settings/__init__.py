"""The user's config file (config.toml beside hosts.toml): how vmtui behaves. `[aliases]` for `:` commands,
`[keys]` to rebind keys, `[[plugins]]` to run programs on the selected domain, `[thresholds]` for the levels
that colour figures. (hosts.toml, `vmtui.config.HostStore`, holds the saved hosts and only them.)

Textual-free: this layer reads and checks the file's shape, so the CLI refuses a broken file too; what
needs the screens' keys (a rebinding that collides, an alias naming no command) is checked by
`vmtui.tui.usersettings` before the TUI opens anything.
"""
