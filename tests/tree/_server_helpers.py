"""Helpers for the tree tests against a real server: snapshots, chroot helpers, a big random tree."""

from __future__ import annotations

import json
import posixpath
import random

import zkservices
from zkservices import Node

from _util import kazoo_client, stop


def snapshot(client, path="/"):
    """Every node below ``path`` with its data and the stat fields a write changes."""
    out = {}
    pending = [path]
    while pending:
        p = pending.pop()
        data, stat = client.get(p)
        out[p] = (data, stat.mzxid, stat.version, stat.cversion, stat.aversion, stat.pzxid, stat.ephemeralOwner)
        pending.extend(posixpath.join(p, c) for c in client.get_children(p))
    return out


def props(client, path):
    data, _ = client.get(path)
    return json.loads(data) if data else {}


def chroot_helper(zk_server, zk_chroot, sub):
    """A zkservices.ZooKeeper on a fresh sub-chroot of this test's chroot."""
    admin = kazoo_client(zk_server.connection_string + zk_chroot)
    admin.ensure_path(sub)
    stop(admin)
    return zkservices.ZooKeeper(zk_server.connection_string + zk_chroot + sub)


VALUES = [
    0, 1, -1, 2**70, -(2**63), 3.5, -0.0, 1e-300, 1.7976931348623157e308, 0.1, True, False, None,
    "", "text", "é中☃", 'quote " and \\ backslash', "new\nline\ttab", "\u2028 separators \x85 \u2029",
    "# not a comment", "= -> =>", "  padded  ", [], {}, [1, "two", None, [3.5, {"k": []}]],
    {"nested": {"deep": [True, {"x": None}]}, "b": 1, "a": 2}, "/looks/like/a/path", "123", "true", "null",
]
NODE_NAMES = ["plain", "with space", "10.0.0.1:8080", "ünï©ødé", "中文", "dots.and-dashes_", "@at", "#hash",
              "a=b", "UPPER", "x->y", "[::1]:80"]
PROP_NAMES = ["threads", "with space", "é", "a=b", "x-y", "CamelCase", "n.1", "quote'd", "type_ish"]


def big_tree(seed=1234, count=320):
    """A tree of about ``count`` nodes with every kind of value, links and property links."""
    rng = random.Random(seed)
    root = Node()
    nodes = []  # (path, node)
    while len(nodes) < count:
        if not nodes or rng.random() < 0.08:
            parent_path, parent = "", root
        else:
            parent_path, parent = rng.choice(nodes)
            if parent_path.count("/") >= 5:
                continue
        name = rng.choice(NODE_NAMES) + (str(len(nodes)) if rng.random() < 0.7 else "")
        if name in parent.children:
            continue
        node = Node(name)
        for _ in range(rng.randint(0, 4)):
            node.properties[rng.choice(PROP_NAMES)] = rng.choice(VALUES)
        if rng.random() < 0.3:
            node.properties["type"] = rng.choice(["z4m cms", "service", 7, ["a", "list"], "  odd  "])
        parent.children[name] = node
        nodes.append((f"{parent_path}/{name}", node))
    # symbolic links: absolute, relative, dangling
    for i, (path, node) in enumerate(nodes[::7]):
        target = rng.choice(nodes)[0]
        node.properties[f"abs{i} ->"] = target
        node.properties[f"rel{i} ->"] = posixpath.relpath(target, path)
        node.properties[f"dangling{i} ->"] = "/no/such/node"
    # property links to real properties elsewhere (relative and absolute)
    # (a property link's path cannot hold white space: 'PATH [NAME]')
    with_props = [(p, n) for p, n in nodes
                  if " " not in p and any(not k.endswith((" ->", " =>")) and " " not in k for k in n.properties)]
    for i, (path, node) in enumerate(nodes[::5]):
        target_path, target = rng.choice(with_props)
        name = rng.choice([k for k in target.properties if not k.endswith((" ->", " =>")) and " " not in k])
        if i % 2:
            node.properties[f"pl{i} =>"] = f"{posixpath.relpath(target_path, path)} {name}"
        elif name not in node.properties:
            node.properties[f"{name} =>"] = target_path  # the name defaults to the link's
    return root


def count_nodes(root):
    return sum(1 for _ in zkservices._tree.iter_nodes(root))
