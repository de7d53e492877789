"""XML, read and written: what hosts send, parsed with entity resolution off (`read`), and what vmtui
builds, with lxml only (`edit`, `devices`). Pure: nothing here talks to a host or imports libvirt.
"""
