"""The admin's commands for bringing devices and people into service (`facegate provision|site|enrol|consent|erasures`).

The work itself is done by the gateway's services (gateway/services); this package only parses command lines.
"""
