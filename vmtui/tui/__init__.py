"""The TUI's parts below the screens and above them: fleet state, messages, jobs, migrations, the palette
and the controllers composed into `vmtui.app.VmtuiApp`."""
