"""zk.selector(path): client-side instance selection over a real providers view."""

from __future__ import annotations

import collections
import threading
import time

import pytest

import zkservices

from _util import wait_for

DEAD = b'{"serviceEndpoint":{"host":"10.0.0.3","port":1},"additionalEndpoints":{},"status":"DEAD"}'


def _service(zk_client, path, n, *, start=1):
    for i in range(start, start + n):
        zk_client.create(f"{path}/10.0.0.{i}:80", b"", makepath=True)
    return [f"10.0.0.{i}:80" for i in range(start, start + n)]


def test_round_robin_follows_the_view(zk, zk_client):
    names = _service(zk_client, "/s/rr", 3)
    with zk.selector("/s/rr") as selector:
        assert isinstance(selector, zkservices.Selector)
        assert [selector.get().name for _ in range(6)] == names + names
        zk_client.create("/s/rr/10.0.0.9:80", b"")
        # (the selector follows the view from its callback, which runs after the view changed)
        wait_for(lambda: len(selector.view) == 4 and "4 provider(s)" in repr(selector),
                 what="the view and the selector see the join")
        assert {selector.get().name for _ in range(4)} == set(names) | {"10.0.0.9:80"}
        zk_client.delete("/s/rr/10.0.0.1:80")
        wait_for(lambda: "10.0.0.1:80" not in selector.view and "3 provider(s)" in repr(selector),
                 what="the view and the selector see the leaver")
        assert "10.0.0.1:80" not in {selector.get().name for _ in range(20)}
    assert selector.closed and selector.view.closed
    with pytest.raises(ValueError, match="closed"):
        selector.get()


def test_random_gives_only_enabled_providers(zk, zk_client):
    names = _service(zk_client, "/s/rand", 3)
    zk_client.create("/s/rand/member_0000000001", DEAD)
    selector = zk.selector("/s/rand", "random")
    seen = collections.Counter(selector.get().name for _ in range(300))
    assert set(seen) == set(names)
    assert min(seen.values()) > 30
    selector.close()


def test_sticky_keeps_its_provider_until_it_leaves_or_goes_down(zk, zk_client):
    _service(zk_client, "/s/sticky", 3)
    selector = zk.selector("/s/sticky", "sticky", error_threshold=1, down_for=60)
    first = selector.get()
    assert all(selector.get() == first for _ in range(10))
    selector.note_error(first)
    second = selector.get()
    assert second != first and all(selector.get() == second for _ in range(10))
    zk_client.delete(f"/s/sticky/{second.name}")
    wait_for(lambda: second.name not in selector.view and "2 provider(s)" in repr(selector))
    third = selector.get()
    assert third.name not in (first.name, second.name)
    selector.close()


def test_least_loaded_prefers_fewer_leases(zk, zk_client):
    _service(zk_client, "/s/ll", 2)
    selector = zk.selector("/s/ll", "least-loaded")
    busy = selector.lease()
    with busy as provider:
        assert selector.inflight(provider) == 1
        others = {selector.get().name for _ in range(50)}
        assert others == {n for n in selector.view if n != provider.name}
    assert selector.inflight(provider) == 0
    selector.close()


def test_down_policy(zk, zk_client):
    names = _service(zk_client, "/s/down", 2)
    selector = zk.selector("/s/down", error_threshold=2, down_for=1.0)
    bad = selector.view[names[0]]
    selector.note_error(bad)
    assert bad.name in {selector.get().name for _ in range(4)}  # one error: still up
    selector.note_error(bad)
    assert selector.down() == {bad.name}
    assert {selector.get().name for _ in range(10)} == {names[1]}
    selector.note_error(names[1])
    selector.note_error(names[1])
    with pytest.raises(zkservices.NoProvider) as info:
        selector.get()
    assert isinstance(info.value, zkservices.ZkServicesError)
    assert "/s/down" in str(info.value) and info.value.down == 2
    time.sleep(1.2)
    assert {selector.get().name for _ in range(4)} == set(names)
    assert selector.down() == frozenset()
    # errors further apart than down_for never add up
    selector.note_error(bad)
    time.sleep(1.1)
    selector.note_error(bad)
    assert selector.down() == frozenset()
    selector.close()


def test_leases_under_six_threads(zk, zk_client):
    _service(zk_client, "/s/lease", 4)
    selector = zk.selector("/s/lease", "least-loaded", error_threshold=10_000, down_for=60)
    lock = threading.Lock()
    active = collections.Counter()
    peak = collections.Counter()
    given = collections.Counter()
    failures = []

    def worker(n):
        for i in range(300):
            try:
                with selector.lease() as provider:
                    with lock:
                        active[provider.name] += 1
                        peak[provider.name] = max(peak[provider.name], active[provider.name])
                        given[provider.name] += 1
                        assert selector.inflight(provider) >= active[provider.name]
                    time.sleep(0)
                    with lock:
                        active[provider.name] -= 1
                    if i % 50 == 49:
                        raise RuntimeError("the call failed")
            except RuntimeError:
                failures.append(n)
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(f, int) for f in failures) and len(failures) == 6 * 6
    assert sum(given.values()) == 6 * 300 and set(given) == set(selector.view)
    assert all(selector.inflight(name) == 0 for name in selector.view)
    assert max(given.values()) - min(given.values()) < 600  # spread over all four
    # the failures were noted as errors: a low threshold takes a provider down on one
    strict = zk.selector("/s/lease", error_threshold=1)
    with pytest.raises(RuntimeError):
        with strict.lease() as provider:
            raise RuntimeError("boom")
    assert strict.down() == {provider.name}
    strict.close()
    selector.close()


def _wait_known(selector, known):
    # the selector counts what its view knows from the view's callback (after the view changed)
    def counted():
        try:
            selector.get()
        except zkservices.NoProvider as exc:
            return exc.known == known
        return False

    wait_for(counted, what=f"the selector to count {known} known provider(s)")


def test_no_provider(zk, zk_client):
    zk_client.create("/s/empty", b"", makepath=True)
    selector = zk.selector("/s/empty")
    with pytest.raises(zkservices.NoProvider, match="/s/empty: no provider available"):
        selector.get()
    with pytest.raises(zkservices.NoProvider):
        selector.lease()
    zk_client.create("/s/empty/member_0000000001", DEAD)
    wait_for(lambda: len(selector.view) == 1)
    _wait_known(selector, 1)
    with pytest.raises(zkservices.NoProvider, match="1 disabled") as info:
        selector.get()
    assert info.value.path == "/s/empty" and info.value.known == 1
    zk_client.create("/s/empty/10.0.0.1:80", b"")
    wait_for(lambda: len(selector.view) == 2 and "1 provider(s)" in repr(selector))
    assert selector.get().name == "10.0.0.1:80"
    selector.close()


def test_bad_options(zk, zk_client):
    zk_client.create("/s/bad", b"", makepath=True)
    for kwargs in (dict(strategy="fastest"), dict(error_threshold=0), dict(down_for=-1)):
        with pytest.raises(ValueError):
            zk.selector("/s/bad", **kwargs)
    with pytest.raises(zkservices.NoNode):
        zk.selector("/s/missing")
