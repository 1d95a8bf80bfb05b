"""What the feed tests share: a template, the rendering it gives, reading the output file."""

from __future__ import annotations

from zkservices._feed import build_context

from _util import wait_for

WAIT = 30.0


TEMPLATE = """\
# begin
{% for s in services %}
service {{ s.name }} balance={{ s.properties.get('balance', 'none') }} count={{ s.providers | length }}
{% for p in s.providers %}
  server {{ p.name }} {{ p.address }} weight={{ p.properties.get('weight', 1) }}
{% endfor %}
{% endfor %}
# end
"""


def text(*services) -> str:
    """The expected rendering: services as (name, balance, [(node, weight), ...])."""
    lines = ["# begin"]
    for name, balance, servers in services:
        lines.append(f"service {name} balance={balance} count={len(servers)}")
        for node, weight in servers:
            lines.append(f"  server {node} {node} weight={weight}")
    lines.append("# end")
    return "\n".join(lines) + "\n"


def read(path) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def wait_file(path, expected: str, what: str = "") -> None:
    wait_for(lambda: read(path) == expected, WAIT, what or f"{path} to hold:\n{expected}")


def lines_of(path) -> list[str]:
    return (read(path) or "").splitlines()


def providers(n: int) -> dict:
    """n provider nodes as they are in ZooKeeper: name -> data (Nerve-style)."""
    nodes = {
        "10.0.0.3:8080": {"host": "10.0.0.3", "port": 8080, "pid": 3, "weight": 5},
        "10.0.0.1:8080": {"host": "10.0.0.1", "port": 8080, "pid": 1},
        "[2001:db8::1]:9000": {"pid": 2},
    }
    return dict(list(nodes.items())[:n])


def context(n: int) -> dict:
    """A template context of two services with ``n`` providers each."""
    return build_context(
        [
            {"path": "/prod/fooservice", "properties": {"balance": "leastconn"}, "providers": providers(n)},
            {"path": "/prod/barservice", "providers": providers(n)},
        ]
    )
