"""`python -m vmtui`."""

from vmtui.cli import main

main()
