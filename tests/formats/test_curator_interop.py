"""Interoperability with a real Apache Curator 5 service-discovery client (Debian's libcurator-*-java).

``java/CuratorProbe.java`` is compiled once per run (javac) and driven line by line:
it registers, lists (``queryForInstances``) and watches (``ServiceCache``) instances
under ``/services`` of the test's chroot.  Both directions are tested, across a
Python session expiry and unregistration, and Curator must parse everything
zkservices writes into a Curator directory.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import threading

import pytest

import zkservices
from zkservices._formats import CuratorFormat, curator as curator_format
from zkservices.testing import expire_session

from _util import wait_for

pytestmark = pytest.mark.zookeeper

JAVA_DIR = "/usr/share/java"
JARS = [
    "curator-x-discovery", "curator-framework", "curator-client", "curator-recipes", "jackson-databind",
    "jackson-core", "jackson-annotations", "guava", "zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-nop",
]
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "java", "CuratorProbe.java")
INSTALL = "run scripts/bootstrap, or: apt-get install libcurator-discovery-java libcurator-recipes-java default-jdk-headless"


@pytest.fixture(scope="session")
def curator_classpath(tmp_path_factory):
    missing = [j for j in JARS if not os.path.exists(os.path.join(JAVA_DIR, j + ".jar"))]
    javac = shutil.which("javac")
    if missing or not javac:
        pytest.fail(f"Curator interop needs {', '.join(missing) or 'javac'} ({INSTALL})")
    classpath = ":".join(os.path.join(JAVA_DIR, j + ".jar") for j in JARS)
    out = tmp_path_factory.mktemp("curator-probe")
    subprocess.run([javac, "-d", str(out), "-cp", classpath, SOURCE], check=True, timeout=120)
    return f"{classpath}:{out}"


class CuratorProbe:
    """A running CuratorProbe: ``ask(command)`` returns its one-line reply."""

    def __init__(self, classpath: str, connection: str, base: str = "/services") -> None:
        self.process = subprocess.Popen(
            ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath, "CuratorProbe", connection,
             base],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            start_new_session=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self._next(60) == "ready"

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put("<exited>")

    def _next(self, timeout: float) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"CuratorProbe did not answer within {timeout}s") from None

    def ask(self, command: str, timeout: float = 30.0) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        reply = self._next(timeout)
        if reply == "<exited>":
            raise AssertionError(f"CuratorProbe exited: {self.process.stderr.read()[-2000:]}")
        return reply

    def instances(self, command: str) -> list[dict]:
        reply = self.ask(command)
        assert not reply.startswith("error"), f"Curator failed: {reply}"
        return json.loads(reply)

    def close(self) -> None:
        try:
            self.ask("quit")
        except Exception:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(10)


@pytest.fixture
def curator(curator_classpath, zk_connection_string):
    probe = CuratorProbe(curator_classpath, zk_connection_string)
    yield probe
    probe.close()


def _ids(instances):
    return [i["id"] for i in instances]


def test_python_reads_and_follows_what_curator_registers(zk, curator):
    assert curator.ask('register orders j1 10.0.0.7 8080 {"weight":3,"zone":"eu"}') == "ok"
    view = zk.providers("/services/orders")
    assert view["j1"] == zkservices.Provider("j1", "10.0.0.7", 8080, {"weight": 3, "zone": "eu"}, "curator", True)
    raw = zk.get("/services/orders/j1")[0]
    written = json.loads(raw)["registrationTimeUTC"]
    assert raw == curator_format.encode("orders", "j1", "10.0.0.7", 8080, {"weight": 3, "zone": "eu"},
                                        registration_time=written)  # byte for byte
    assert curator.ask('register orders j2 10.0.0.8 8080 {}') == "ok"
    wait_for(lambda: "j2" in view, what="the second instance")
    with zk.selector("/services/orders") as selector:
        assert {selector.get().address for _ in range(4)} == {"10.0.0.7:8080", "10.0.0.8:8080"}
        assert curator.ask("unregister orders j1") == "ok"
        # the selector follows a view of its own, from that view's callback on the worker:
        # its picks change once that callback has run
        wait_for(lambda: "j1" not in view and {selector.get().name for _ in range(4)} == {"j2"},
                 what="the unregistered instance leaves (the view and the selector's picks)")


def test_bytes_match_curator_for_any_payload(curator):
    payload = {"s": "a\u0001b\u001fc\n\t\"\\/\u007f\u2028\u00e9\U0001F600", "f": 1e20, "g": 0.1, "n": None,
               "nested": {"@class": "not.Checked", "l": [1, 2.5, True]}}
    text = json.dumps(payload, ensure_ascii=False)
    reply = curator.ask(f"serialize svc the-id ::1 443 1796110968522 {text}")
    assert base64.b64decode(reply) == curator_format.encode("svc", "the-id", "::1", 443, payload,
                                                            registration_time=1796110968522)


def test_curator_lists_and_watches_what_python_registers(zk, curator):
    assert curator.ask("watch orders") == "ok"
    options = CuratorFormat(ssl_port=9443, uri_spec="{scheme}://{address}:{port}/api")
    reg = zk.register_server("/services/orders", "10.0.0.8:9090", provider_format=options, weight=2, tags=["a", "b"])
    (instance,) = curator.instances("list orders")
    assert instance["id"] == reg.names[0] and instance["name"] == "orders"
    assert (instance["address"], instance["port"], instance["sslPort"]) == ("10.0.0.8", 9090, 9443)
    assert instance["payload"] == {"weight": 2, "tags": ["a", "b"]}
    assert instance["payloadClass"] == "java.util.LinkedHashMap"
    assert instance["serviceType"] == "DYNAMIC" and instance["enabled"] is True
    assert instance["uriSpec"].endswith("://10.0.0.8:9090/api")
    wait_for(lambda: _ids(curator.instances("cache orders")) == [reg.names[0]], what="Curator's cache sees it")

    expire_session(zk)
    assert zk.wait_recovered(30)
    assert _ids(curator.instances("list orders")) == [reg.names[0]]  # the same ID
    wait_for(lambda: _ids(curator.instances("cache orders")) == [reg.names[0]], what="the cache after expiry")

    reg.unregister()
    assert curator.instances("list orders") == []
    wait_for(lambda: curator.instances("cache orders") == [], what="the cache sees the unregistration")


def test_curator_parses_everything_zkservices_writes_into_its_directory(zk, zk_client, curator):
    assert curator.ask('register orders j1 10.0.0.7 8080 {"weight":1}') == "ok"
    regs = [
        zk.register_server("/services/orders", "10.0.0.1:80", provider_format="curator"),
        zk.register_server("/services/orders", "10.0.0.2:80", provider_format="curator", text="h\u00e9\U0001F600\u0001",
                           f=1.5e-7, big=2**62, nested={"@class": "x", "l": [None, {}]}),
        zk.register_server("/services/orders", "[::1]:80", provider_format=CuratorFormat(
            service_type="STATIC", instance_id="static-1", uri_spec="{scheme}://{address}:{port}",
            payload_class="java.util.HashMap")),
        zk.register_server("/services/orders", "10.0.0.3:80", weight=2, zone="eu"),  # zkservices' own
        zk.register_server("/services/orders", "10.0.0.4:80", provider_format="serverset", shard=1, zone="eu"),
    ]
    children = zk_client.get_children("/services/orders")
    listed = curator.instances("list orders")  # one unparsable sibling would fail this
    assert len(listed) == len(children) == 6
    assert set(_ids(listed)) >= {"j1", "static-1", regs[0].names[0], regs[1].names[0]}
    by_id = {i["id"]: i for i in listed}
    assert by_id[regs[1].names[0]]["payload"]["text"] == "h\u00e9\U0001F600\u0001"
    assert by_id["static-1"]["serviceType"] == "STATIC" and by_id["static-1"]["payloadClass"] == "java.util.HashMap"
    for name in children:
        data = zk_client.get(f"/services/orders/{name}")[0]
        reply = curator.ask("parse " + base64.b64encode(data).decode())
        assert not reply.startswith("error"), (name, data, reply)
    # why the rules exist: one sibling Curator cannot parse fails the whole directory for it
    for bad in (b"garbage", b'{"host":"10.0.0.5","port":80,"enabled":"yes"}'):
        zk_client.create("/services/orders/bad", bad)
        assert curator.ask("list orders").startswith("error")
        zk_client.delete("/services/orders/bad")
    with pytest.raises(ValueError, match="Curator"):
        zk.register_server("/services/orders", "10.0.0.5:80", enabled="yes")
    assert len(curator.instances("list orders")) == 6
