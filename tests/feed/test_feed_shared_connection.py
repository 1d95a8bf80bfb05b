"""A Feed on a BackgroundConnection of its owner's: it follows the session the connection makes and
leaves the connection open; its state for reports (``providers_count``, ``holding``, ``name``)."""

from __future__ import annotations

from zkservices import BackgroundConnection, Feed

from _util import wait_for

WAIT = 30.0


def test_a_feed_on_a_shared_background_connection(zk_connection_string, zk, tmp_path):
    zk.register_server("/shared/providers", "10.0.0.1:80")
    zk.register_server("/shared/providers", "10.0.0.2:80")
    out = tmp_path / "out.txt"
    with BackgroundConnection(zk_connection_string) as connection:
        feed = Feed(connection, "/shared", template_text="{{ services[0].providers|length }}\n", output=out,
                    min_wait=0, name="shared")
        with feed:
            wait_for(lambda: out.exists() and out.read_text() == "2\n", WAIT, "rendered")
            # the file is renamed into place before the writer records the result: wait for the count
            wait_for(lambda: feed.writes == 1, WAIT, "the write counted")
            assert (feed.name, feed.providers_count, feed.holding, feed.held) == ("shared", 2, [], 0)
            assert feed.file_feed.last_result == "written"
        assert connection.zk is not None and not connection.zk.closed  # left open


def test_held_counts_renderings_the_shrink_guard_held_back(zk, tmp_path):
    registrations = [zk.register_server("/guarded/providers", f"10.0.0.{i}:80") for i in range(1, 5)]
    out = tmp_path / "out.txt"
    with Feed(zk, "/guarded", template_text="{{ services[0].providers|length }}\n", output=out,
              min_wait=0) as feed:
        wait_for(lambda: out.exists() and out.read_text() == "4\n", WAIT, "rendered")
        assert feed.held == 0
        # three of four gone at once (one transaction: the guard compares with the last published set)
        transaction = zk.client.transaction()
        for registration in registrations[1:]:
            for path in registration.paths:
                transaction.delete(path)
        assert all(result is True for result in transaction.commit())
        wait_for(lambda: feed.holding, WAIT, "the guard holding")
        assert feed.holding == ["/guarded: shrink guard: 1 of 4 provider(s)"]
        wait_for(lambda: feed.held >= 1, WAIT, "a held rendering counted")
        assert out.read_text() == "4\n" and feed.providers_count == 4
