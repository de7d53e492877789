"""`vmtui lab`: several real libvirt hosts on one machine, each in its own namespaces, reached over SSH.

Layout: `netns` (bridge, veths, namespaces, daemons by pidfile), `ssh` (keys, sshd and client configs),
`image` (the tiny Linux guest), `nsinit` (runs inside a new namespace to mount and start daemons) and
`manager` (up/down/status). Nothing is imported here: `python -m vmtui.lab.nsinit` runs inside every
namespace and should start fast.
"""
