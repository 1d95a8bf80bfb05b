"""Feeds against a real ZooKeeper: real files, real commands, real outages.

What the issue demands: file contents after joins, leaves and property changes;
one reload per burst; a failing check command keeps the old file; the file is
never seen half-written; an outage keeps the last good set; a feed started
while ZooKeeper is down renders from the snapshot and converges when it is
back; the shrink guard and its forced override.

No assertion is about how long something took; waits are generous upper bounds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import pytest
from kazoo.client import KazooClient

import zkservices
from zkservices import Feed

from _feedutil import TEMPLATE, WAIT, lines_of, read, text, wait_file
from _util import kazoo_client, stop, wait_for




def provider(client: KazooClient, service: str, node: str, ephemeral: bool = True, **data) -> str:
    """Create a provider node the way Nerve-style registrars write them."""
    host, _, port = node.rpartition(":")
    body = {"host": host, "port": int(port), **data}
    return client.create(f"{service}/providers/{node}", json.dumps(body).encode(), ephemeral=ephemeral, makepath=True)


# -- file contents -------------------------------------------------------------


def test_joins_leaves_and_property_changes(zk, zk_connection_string, tmp_path):
    zk.create("/svc", b'{"balance":"roundrobin"}')
    zk.create("/svc/providers")
    out = tmp_path / "lb.conf"
    feed = Feed(zk_connection_string, ["/svc", "/later"], template_text=TEMPLATE, output=out, min_fraction=0)
    with feed:
        # /later does not exist yet: it counts as empty, and nothing waits for it
        wait_file(out, text(("svc", "roundrobin", []), ("later", "none", [])))

        a = zk.register_server("/svc/providers", "10.0.0.1:8080", weight=2)
        wait_file(out, text(("svc", "roundrobin", [("10.0.0.1:8080", 2)]), ("later", "none", [])))
        b = zk.register_server("/svc/providers", "10.0.0.2:8080")
        wait_file(out, text(("svc", "roundrobin", [("10.0.0.1:8080", 2), ("10.0.0.2:8080", 1)]), ("later", "none", [])))

        # a provider's own data changes (the weight): watched too
        zk.properties(b.paths[0]).update(weight=7)
        wait_file(out, text(("svc", "roundrobin", [("10.0.0.1:8080", 2), ("10.0.0.2:8080", 7)]), ("later", "none", [])))

        # a service property changes
        zk.properties("/svc").update(balance="leastconn")
        wait_file(out, text(("svc", "leastconn", [("10.0.0.1:8080", 2), ("10.0.0.2:8080", 7)]), ("later", "none", [])))

        # a leave
        a.unregister()
        wait_file(out, text(("svc", "leastconn", [("10.0.0.2:8080", 7)]), ("later", "none", [])))

        # the missing service appears, with its providers
        zk.create("/later", b'{"balance":"first"}')
        zk.register_server("/later/providers", "10.0.1.1:9000", weight=3)
        wait_file(
            out,
            text(("svc", "leastconn", [("10.0.0.2:8080", 7)]), ("later", "first", [("10.0.1.1:9000", 3)])),
        )
        assert not feed.stale
        assert "started" in repr(feed)
    assert feed.closed


# -- dampening, checks, atomicity ---------------------------------------------------


def test_burst_of_registrations_gives_one_reload(zk, zk_connection_string, tmp_path):
    zk.create("/svc/providers", makepath=True)
    out, reloads = tmp_path / "lb.conf", tmp_path / "reloads.log"
    feed = Feed(
        zk_connection_string, "/svc", template_text=TEMPLATE, output=out,
        reload_command=f"echo reload >> {reloads}", min_wait=1.0,
    )
    other = kazoo_client(zk_connection_string)
    try:
        with feed:
            wait_file(out, text(("svc", "none", [])))
            wait_for(lambda: feed.reloads == 1, WAIT, "the first reload")
            # ten registrations from another session, sent pipelined
            results = [
                other.create_async(f"/svc/providers/10.0.0.{i}:80",
                                   json.dumps({"host": f"10.0.0.{i}", "port": 80}).encode(), ephemeral=True)
                for i in range(10)
            ]
            for result in results:
                result.get(timeout=WAIT)
            wait_for(lambda: "count=10" in (read(out) or ""), WAIT, "the burst in the file")
            assert feed.flush(WAIT)
            assert feed.writes == 2 and feed.reloads == 2
        assert lines_of(reloads) == ["reload", "reload"]
    finally:
        stop(other)


def test_failing_check_command_keeps_the_old_file(zk, zk_connection_string, tmp_path):
    zk.create("/svc/providers", makepath=True)
    out = tmp_path / "lb.conf"
    # the "configuration test" rejects a candidate naming 10.9.9.9
    check = "! grep -q 10.9.9.9 {}"
    with Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=out, check_command=check,
              reload_command="true", min_fraction=0) as feed:
        zk.register_server("/svc/providers", "10.0.0.1:80")
        good = text(("svc", "none", [("10.0.0.1:80", 1)]))
        wait_file(out, good)
        os.chmod(out, 0o640)
        bad = zk.register_server("/svc/providers", "10.9.9.9:80")
        wait_for(lambda: feed.check_failures == 1, WAIT, "the check to fail")
        assert read(out) == good
        assert "10.9.9.9" in feed.last_error and feed.reloads == 1
        assert not [n for n in os.listdir(tmp_path) if n.startswith(".")], "a temporary file was left behind"
        bad.unregister()
        zk.register_server("/svc/providers", "10.0.0.2:80")
        wait_file(out, text(("svc", "none", [("10.0.0.1:80", 1), ("10.0.0.2:80", 1)])))
        assert feed.flush(WAIT)  # the reload follows the write
        assert feed.reloads == 2 and feed.last_error is None
        assert os.stat(out).st_mode & 0o777 == 0o640  # permissions kept


def test_the_file_is_never_seen_half_written(zk, zk_connection_string, tmp_path):
    zk.create("/svc/providers", makepath=True)
    out = tmp_path / "lb.conf"
    seen, bad, done = [0], [], threading.Event()

    def reader():
        while not done.is_set():
            content = read(out)
            if content is None:
                continue
            lines = content.splitlines()
            count = int(lines[1].rsplit("count=", 1)[1]) if len(lines) > 2 else -1
            if lines[0] != "# begin" or lines[-1] != "# end" or not content.endswith("\n") or len(lines) != count + 3:
                bad.append(content)
            seen[0] += 1

    other = kazoo_client(zk_connection_string)
    thread = threading.Thread(target=reader, daemon=True)
    try:
        # min_wait=0: every change is written at once, as many writes as can be
        with Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=out, min_fraction=0,
                  min_wait=0) as feed:
            wait_file(out, text(("svc", "none", [])))
            thread.start()
            padding = "x" * 2000  # big enough provider data that a torn write would show
            for round_ in range(4):
                for i in range(12):
                    provider(other, "/svc", f"10.0.{round_}.{i}:80", weight=i, padding=padding)
                for i in range(12):
                    other.delete(f"/svc/providers/10.0.{round_}.{i}:80")
            provider(other, "/svc", "10.0.9.9:80")
            wait_file(out, text(("svc", "none", [("10.0.9.9:80", 1)])))
            writes = feed.writes
    finally:
        done.set()
        thread.join(WAIT)
        stop(other)
    assert not bad, f"a reader saw an incomplete file: {bad[0]!r}"
    assert seen[0] > 0 and writes >= 3


# -- outages --------------------------------------------------------------------


def test_outage_keeps_last_good_set_snapshot_start_and_convergence(zk_server, zk_connection_string, tmp_path, caplog):
    """The real behaviour of a graceful server stop and start.

    While the server is down nothing can change in ZooKeeper and no session
    expires (the server is not running to expire it); kazoo keeps reconnecting.
    A feed keeps its file (also past its own session timeout) and says it is
    stale.  A feed started during the outage renders from the snapshot.  When
    the server is back, it restores the sessions and gives each a fresh
    timeout: the registrar that stayed alive keeps its node, the one that died
    during the outage loses its node one session timeout later -- and both
    feeds converge on that truth.
    """
    caplog.set_level(logging.INFO, logger="zkservices")
    admin = kazoo_client(zk_connection_string)
    admin.create("/svc", b'{"balance":"roundrobin"}')
    survivor = kazoo_client(zk_connection_string, timeout=4.0)
    doomed = kazoo_client(zk_connection_string, timeout=2.0)
    provider(survivor, "/svc", "10.0.0.1:80")
    provider(doomed, "/svc", "10.0.0.2:80")
    stop(admin)
    both = text(("svc", "roundrobin", [("10.0.0.1:80", 1), ("10.0.0.2:80", 1)]))
    one = text(("svc", "roundrobin", [("10.0.0.1:80", 1)]))
    out1, out2, snapshot = tmp_path / "one.conf", tmp_path / "two.conf", tmp_path / "snapshot.json"
    feed1 = Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=out1, snapshot=snapshot,
                 session_timeout=2.0).start()
    feed2 = None
    try:
        wait_file(out1, both)
        wait_for(lambda: "10.0.0.2:80" in json.loads(read(snapshot) or "{}").get("services", {}).get("/svc", {}).get("providers", {}),
                 WAIT, "the snapshot to be saved")
        # the file is renamed into place before the writer counts the write: wait for the count
        wait_for(lambda: feed1.writes == 1, WAIT, "the feed to count its one write")
        writes = feed1.writes
        zk_server.stop()
        try:
            wait_for(lambda: feed1.stale, WAIT, "the running feed to report itself stale")
            # the warning follows the flag (same thread, just after): wait for it, do not race it
            wait_for(lambda: any("holding the last good set (2 provider(s))" in r.getMessage()
                                 for r in caplog.records), WAIT, "the warning that the last good set is held")
            # the registrar dies while the server is down (it cannot even say goodbye)
            stop(doomed)
            # a new feed starts during the outage: it renders the snapshot, marked stale
            feed2 = Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=out2, snapshot=snapshot,
                         timeout=0.5).start()
            wait_file(out2, both, "the new feed to render the snapshot")
            assert feed2.stale and feed2.server_sets[0].holding == "ZooKeeper unreachable"
            assert any("from snapshot" in r.getMessage() for r in caplog.records)
            # well past feed1's session timeout: its file still holds the last good set
            time.sleep(3.0)
            assert read(out1) == both and feed1.writes == writes and feed1.stale
        finally:
            zk_server.start()
        # the sessions come back; the dead registrar's expires and both feeds converge
        wait_file(out1, one, "the running feed to converge")
        wait_file(out2, one, "the feed started from the snapshot to converge")
        wait_for(lambda: not feed1.stale and not feed2.stale, WAIT, "both feeds to be current")
        wait_for(lambda: list(json.loads(read(snapshot))["services"]["/svc"]["providers"]) == ["10.0.0.1:80"],
                 WAIT, "the snapshot to follow")
    finally:
        feed1.close()
        if feed2 is not None:
            feed2.close()
        stop(survivor)


def test_services_and_their_deprecated_spellings():
    feed = Feed("127.0.0.1:1", ["/a", "/b"], template_text=TEMPLATE, dry_run=True)  # starts nothing
    assert feed.services == ["/a", "/b"] and "/a /b" in repr(feed)
    with pytest.warns(DeprecationWarning, match="Feed.service_paths is deprecated; use services") as caught:
        assert feed.service_paths == ["/a", "/b"]
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match="service_paths= is deprecated; use services=") as caught:
        old = Feed("127.0.0.1:1", service_paths="/a", template_text=TEMPLATE, dry_run=True)
    assert caught[0].filename == __file__ and old.services == ["/a"]
    with pytest.raises(TypeError, match="services= only"):
        Feed("127.0.0.1:1", "/a", service_paths="/a", template_text=TEMPLATE, dry_run=True)
    with pytest.raises(TypeError, match="needs the service nodes"):
        Feed("127.0.0.1:1", template_text=TEMPLATE, dry_run=True)


def test_start_while_down_without_snapshot_writes_nothing_and_once_fails(tmp_path):
    # a port nobody listens on: ZooKeeper is "down" for good
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    out = tmp_path / "lb.conf"
    feed = Feed(dead, "/svc", template_text=TEMPLATE, output=out, timeout=0.2).start()
    try:
        assert not feed.ready and feed.stale and "waiting for data" in repr(feed)
    finally:
        feed.close()
    with pytest.raises(zkservices.FeedError, match="no snapshot"):
        Feed(dead, "/svc", template_text=TEMPLATE, output=out, timeout=0.2).run_once(timeout=0.5)
    assert read(out) is None  # never an empty configuration


# -- the shrink guard -----------------------------------------------------------------


def test_shrink_guard_refuses_sharp_drop_and_force_publishes_it(zk, zk_client, zk_connection_string, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="zkservices.serverset")
    zk_client.create("/svc", b"{}")
    for i in range(1, 5):
        provider(zk_client, "/svc", f"10.0.0.{i}:80", ephemeral=False)
    four = text(("svc", "none", [(f"10.0.0.{i}:80", 1) for i in range(1, 5)]))
    guarded, forced = tmp_path / "guarded.conf", tmp_path / "forced.conf"
    feed = Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=guarded, min_fraction=0.5).start()
    feed_forced = Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=forced, force=True).start()
    try:
        wait_file(guarded, four)
        wait_file(forced, four)
        servers = feed.server_sets[0]

        # 4 -> 1 in one atomic step
        tx = zk_client.transaction()
        for i in range(2, 5):
            tx.delete(f"/svc/providers/10.0.0.{i}:80")
        assert all(r is True for r in tx.commit())
        wait_file(forced, text(("svc", "none", [("10.0.0.1:80", 1)])), "force to publish the drop")
        wait_for(lambda: servers.holding == "shrink guard: 1 of 4 provider(s)", WAIT, "the guard to refuse")
        refusals = [r.getMessage() for r in caplog.records if "shrink guard" in r.getMessage()]
        assert refusals and "lists 1 provider(s), fewer than 0.5 x the 4 last published" in refusals[0]
        assert read(guarded) == four and servers.stale and len(servers) == 4

        # the whole providers node vanishes: an empty set is refused too
        zk_client.delete("/svc/providers", recursive=True)
        wait_for(lambda: servers.holding == "shrink guard: 0 of 4 provider(s)", WAIT, "the guard to refuse 0")
        wait_file(forced, text(("svc", "none", [])))
        assert read(guarded) == four

        # recovery: 2 of 4 is not below half -- published at once
        provider(zk_client, "/svc", "10.0.0.1:80", ephemeral=False)
        provider(zk_client, "/svc", "10.0.0.5:80", ephemeral=False, weight=9)
        two = text(("svc", "none", [("10.0.0.1:80", 1), ("10.0.0.5:80", 9)]))
        wait_file(guarded, two, "the recovered set to be published")
        wait_file(forced, two)
        assert servers.holding is None and not servers.stale
        assert any("recovered" in r.getMessage() for r in caplog.records)
    finally:
        feed.close()
        feed_forced.close()


# -- the ZooKeeper side: providers node deleted, services created late, odd data, leader death --

import uuid  # noqa: E402

from kazoo.exceptions import NodeExistsError  # noqa: E402


ADDRESS_TEMPLATE = """\
{% for s in services %}
{{ s.name }}:{% for p in s.providers %} {{ p.address }}{% endfor %}

{% endfor %}
"""


def test_providers_node_deleted_and_recreated(zk_client, zk_connection_string, tmp_path):
    out = tmp_path / "lb.conf"
    zk_client.ensure_path("/svc")
    provider(zk_client, "/svc", "10.0.0.1:80")
    provider(zk_client, "/svc", "10.0.0.2:80")
    with Feed(zk_connection_string, ["/svc"], template_text=ADDRESS_TEMPLATE, output=out):
        wait_for(lambda: read(out) == "svc: 10.0.0.1:80 10.0.0.2:80\n", WAIT, "first rendering")
        tx = zk_client.transaction()  # the node and its children at once
        for name in zk_client.get_children("/svc/providers"):
            tx.delete(f"/svc/providers/{name}")
        tx.delete("/svc/providers")
        assert all(r is True for r in tx.commit())
        time.sleep(0.3)
        assert read(out) == "svc: 10.0.0.1:80 10.0.0.2:80\n"  # the shrink guard holds
        provider(zk_client, "/svc", "10.0.0.3:80")
        provider(zk_client, "/svc", "10.0.0.4:80")
        wait_for(lambda: read(out) == "svc: 10.0.0.3:80 10.0.0.4:80\n", WAIT, "the re-created providers")
        provider(zk_client, "/svc", "10.0.0.5:80")
        wait_for(lambda: read(out) == "svc: 10.0.0.3:80 10.0.0.4:80 10.0.0.5:80\n", WAIT, "watching resumed")


def test_two_services_one_missing_then_created(zk_client, zk_connection_string, tmp_path):
    out = tmp_path / "lb.conf"
    provider(zk_client, "/a", "10.0.0.1:80")
    with Feed(zk_connection_string, ["/a", "/b"], template_text=ADDRESS_TEMPLATE, output=out):
        wait_for(lambda: read(out) == "a: 10.0.0.1:80\nb:\n", WAIT, "a rendering with b empty")
        provider(zk_client, "/b", "10.0.0.9:81")
        wait_for(lambda: read(out) == "a: 10.0.0.1:80\nb: 10.0.0.9:81\n", WAIT, "b once created")


def test_provider_data_not_json_or_without_host_and_port(zk_client, zk_connection_string, tmp_path):
    out = tmp_path / "lb.conf"
    zk_client.create("/svc/providers/10.0.0.1:80", b"not json", makepath=True)
    zk_client.create("/svc/providers/10.0.0.2:81", b"[1, 2]")
    zk_client.create("/svc/providers/10.0.0.3:82", b'{"weight": 2}')
    zk_client.create("/svc/providers/weird", b'{"host": ["x"], "port": {"a": 1}}')
    with Feed(zk_connection_string, ["/svc"], template_text=ADDRESS_TEMPLATE, output=out) as feed:
        wait_for(lambda: read(out) is not None, WAIT, "a rendering")
        # "weird" has no usable host or port: left out (issue 9), the others rendered
        assert read(out) == "svc: 10.0.0.1:80 10.0.0.2:81 10.0.0.3:82\n"
        provider(zk_client, "/svc", "10.0.0.4:83")  # the feed still follows
        wait_for(lambda: "10.0.0.4:83" in (read(out) or ""), WAIT, "the feed to go on")
        assert feed.last_error is None


def test_feed_over_an_ensemble_survives_the_leader_dying(zk_ensemble, tmp_path):
    root = f"/review-{uuid.uuid4().hex[:8]}"
    client = kazoo_client(zk_ensemble.connection_string)
    out = tmp_path / "lb.conf"
    seen: list[str] = []
    try:
        provider(client, root + "/svc", "10.0.0.1:80")
        provider(client, root + "/svc", "10.0.0.2:80")
        with Feed(zk_ensemble.connection_string + root, ["/svc"], template_text=ADDRESS_TEMPLATE, output=out,
                  on_render=seen.append):
            wait_for(lambda: read(out) == "svc: 10.0.0.1:80 10.0.0.2:80\n", WAIT, "first rendering")
            zk_ensemble.leader().kill()
            def add_third() -> bool:  # ConnectionLoss while the ensemble elects: try again
                try:
                    provider(client, root + "/svc", "10.0.0.3:80")
                except NodeExistsError:  # an earlier attempt got through
                    pass
                return True

            wait_for(add_third, WAIT, "a new leader to take a write")
            wait_for(lambda: read(out) == "svc: 10.0.0.1:80 10.0.0.2:80 10.0.0.3:80\n", WAIT, "convergence")
        assert all(text.startswith("svc: 10.0.0.1:80 10.0.0.2:80") for text in seen), seen  # never empty
    finally:
        try:
            client.delete(root, recursive=True)
        finally:
            stop(client)

