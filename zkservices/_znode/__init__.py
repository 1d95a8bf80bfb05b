"""Znode rules that need no session: paths, node data encoding, symbolic and property links."""
