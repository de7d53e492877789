"""The libvirt connection, by subject: the only package of vmtui that imports libvirt-python.

`driver.Connection` is made of the subject parts beside it (domains, host, jobs, memory, devices,
storage, networks, node devices, snapshots, guest, definitions) over `connection.ConnectionCore`. The
import contracts in pyproject.toml forbid `import libvirt` anywhere else.
"""
