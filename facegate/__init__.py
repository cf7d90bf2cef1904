"""The composition root: the `facegate` command and the whole-system demo.

The edge and the gateway never import each other; only this package sees both.
"""
