"""The agent's configuration: one file or a directory, parsed by the schema, every problem reported.

No server: the loader reads files only.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest

import zkservices
from zkservices import (
    AgentConfig,
    AgentConfigError,
    CheckConfig,
    ConfigProblem,
    FeedConfig,
    RegisterConfig,
    TLSConfig,
    ZooKeeperConfig,
    load_agent_config,
)
from zkservices._feed.render import shipped_template


def write(directory, name: str, text: str):
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path) -> list[str]:
    with pytest.raises(AgentConfigError) as caught:
        load_agent_config(path)
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


#: AGENT.md's example, its file names moved below the test's directory.
EXAMPLE = """\
zookeeper:
  connection: "zk1:2181,zk2:2181,zk3:2181/prod"
  session_timeout: 10
  auth_file: auth
  tls: {ca: ca.pem, cert: host.pem, key: host.key}
listen: "127.0.0.1:9150"
register:
  - path: /services/web/providers
    address: "10.0.0.5:8080"
    format: zkservices
    properties: {weight: 3}
    check:
      http: "http://127.0.0.1:8080/health"
      interval: 2
      timeout: 2
      rise: 2
      fall: 3
feeds:
  - name: web
    services: [/services/web, /services/api]
    providers: providers
    template: haproxy
    output: out/web.cfg
    check_command: "haproxy -c -f {}"
    reload_command: "systemctl reload haproxy"
    reload_interval: 2
    min_wait: 0.2
    max_wait: 0.8
    min_fraction: 0.5
    snapshot: state/web.json
"""


@pytest.fixture
def site(tmp_path):
    """A directory with what the example names: the auth file, certificates, output directories."""
    for name in ("auth", "ca.pem", "host.pem", "host.key"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "state").mkdir()
    return tmp_path


def test_the_reference_example_parses_into_its_records(site):
    path = write(site, "agent.yaml", EXAMPLE)
    config = load_agent_config(path)
    here = str(site)
    assert config.zookeeper == ZooKeeperConfig(
        connection="zk1:2181,zk2:2181,zk3:2181/prod",
        session_timeout=10.0,
        auth_file=f"{here}/auth",
        tls=TLSConfig(ca=f"{here}/ca.pem", cert=f"{here}/host.pem", key=f"{here}/host.key"),
    )
    assert config.listen == "127.0.0.1:9150"
    assert config.register == (
        RegisterConfig("/services/web/providers", "10.0.0.5:8080", "10.0.0.5", 8080, "zkservices", {"weight": 3},
                       CheckConfig(http="http://127.0.0.1:8080/health", interval=2, timeout=2, rise=2, fall=3)),
    )
    assert config.register[0].check.kind == "http"
    (feed,) = config.feeds
    assert feed == FeedConfig(
        name="web", services=("/services/web", "/services/api"), template="haproxy", output=f"{here}/out/web.cfg",
        template_text=shipped_template("haproxy"), template_file=None, providers="providers",
        check_command="haproxy -c -f {}", reload_command="systemctl reload haproxy", reload_interval=2.0,
        min_wait=0.2, max_wait=0.8, min_fraction=0.5, snapshot=f"{here}/state/web.json",
    )
    assert config.files == (str(path),)
    assert config.feed("web") is feed and config.feed("nope") is None
    assert config.registration("/services/web/providers", "10.0.0.5:08080") is config.register[0]


def test_defaults_and_an_empty_file(tmp_path):
    assert load_agent_config(write(tmp_path, "empty.yaml", "# nothing yet\n")) == AgentConfig()
    (tmp_path / "out").mkdir()
    config = load_agent_config(write(tmp_path, "a.yaml", """\
        register:
          - {path: /s/providers, address: ":8080"}
          - path: /s/providers
            address: "[2001:db8::1]:8080"
            format: curator
            check: {tcp: "127.0.0.1:8080"}
        feeds:
          - {services: [/s], template: json, output: out/s.json}
        """))
    first, second = config.register
    assert (first.host, first.port, first.format, dict(first.properties), first.check) == ("", 8080, "zkservices", {}, None)
    assert (second.host, second.port, second.format) == ("2001:db8::1", 8080, "curator")
    assert second.check == CheckConfig(tcp="127.0.0.1:8080", interval=2.0, timeout=2.0, rise=2, fall=3)
    (feed,) = config.feeds
    assert (feed.name, feed.providers, feed.reload_interval, feed.min_wait, feed.max_wait, feed.min_fraction) == (
        "s.json", "providers", 0.0, 0.2, None, 0.5)
    assert feed.template_text == shipped_template("json") and feed.template_file is None
    assert config.zookeeper == ZooKeeperConfig() and config.listen is None


def test_a_directory_is_merged_in_name_order(site):
    directory = site / "agent.d"
    directory.mkdir()
    write(directory, "20-web.yaml", """\
        register:
          - {path: /web/providers, address: "10.0.0.5:80"}
        feeds:
          - {services: [/web], template: nginx, output: ../out/web.conf}
        """)
    write(directory, "10-base.yaml", """\
        zookeeper: {connection: "zk1:2181"}
        listen: "127.0.0.1:9150"
        register:
          - {path: /api/providers, address: "10.0.0.5:81"}
        """)
    write(directory, "30-more.yaml", """\
        register:
          - {path: /db/providers, address: "10.0.0.5:82"}
        feeds:
          - {name: db, services: [/db], template: prometheus, output: ../out/db.json}
        """)
    write(directory, "README.txt", "bogus: [")  # not *.yaml: not read
    write(directory, ".hidden.yaml", "bogus: [")
    write(directory, "old.yml", "bogus: [")
    config = load_agent_config(directory)
    assert config.files == tuple(str(directory / n) for n in ("10-base.yaml", "20-web.yaml", "30-more.yaml"))
    assert [r.path for r in config.register] == ["/api/providers", "/web/providers", "/db/providers"]
    assert [f.name for f in config.feeds] == ["web.conf", "db"]
    assert config.feeds[0].output == str(site / "out" / "web.conf")  # relative to the file's directory
    assert [r.file for r in config.register] == [str(directory / n) for n in ("10-base.yaml", "20-web.yaml", "30-more.yaml")]
    assert config.zookeeper.connection == "zk1:2181" and config.listen == "127.0.0.1:9150"
    assert config.zookeeper.file == str(directory / "10-base.yaml")


def test_sections_given_in_two_files_are_problems(tmp_path):
    write(tmp_path, "a.yaml", 'zookeeper: {connection: "zk1:2181"}\nlisten: "127.0.0.1:1"\n')
    write(tmp_path, "b.yaml", 'zookeeper: {session_timeout: 5}\nlisten: "127.0.0.1:2"\n')
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert problems(tmp_path) == [
        f"{b}: zookeeper: also in {a}: give it in one file only",
        f"{b}: listen: also in {a}: give it in one file only",
    ]


def test_every_problem_is_reported_with_file_and_key_path(site):
    path = write(site, "bad.yaml", """\
        zookeeper:
          connection: "zk1:2181,:x"
          session_timeout: "10"
          resync_jitter: -1
          tls: {cert: host.pem}
          tls_ca: x
        listen: "127.0.0.1"
        bogus_key: 1
        register:
          - path: /services/web/providers
            address: "10.0.0.5:8080"
            check:
              http: "ftp://127.0.0.1/"
              intervall: 2
          - path: services/api
            address: "10.0.0.5"
            format: zookeeper
          - path: /services/db/providers
            address: "10.0.0.5:99999"
            properties: {weight: 3, port: 1}
          - path: /services/x/providers
            address: "10.0.0.5:1"
            check: {tcp: "127.0.0.1:1", command: "true", rise: 0, fall: 1.5}
          - "not a mapping"
        feeds:
          - name: web
            services: /services/web
            template: missing.j2
            output: out/web.cfg
            min_fraction: 2
          - services: [/services/web]
            providers: /abs
            template: haproxy
            output: nodir/web.cfg
            reload_interval: -1
          - {services: [], template: json}
        """)
    assert problems(path) == [f"{path}: {line}" for line in [
        "bogus_key: unknown key",
        "zookeeper.connection: invalid connection string 'zk1:2181,:x': address ':x': port 'x' is not a number",
        "zookeeper.session_timeout: should be a number (got '10')",
        "zookeeper.resync_jitter: should be greater than or equal to 0 (got -1)",
        "zookeeper.tls: give cert and key together (or neither)",
        "zookeeper.tls_ca: unknown key (did you mean 'tls'?)",
        "listen: address '127.0.0.1': expected 'host:port'",
        "register[0].check.http: expected an http:// or https:// URL, got 'ftp://127.0.0.1/'",
        "register[0].check.intervall: unknown key (did you mean 'interval'?)",
        "register[1].path: invalid path 'services/api': must start with '/'",
        "register[1].address: address '10.0.0.5': expected 'host:port'",
        "register[1].format: should be one of 'zkservices', 'curator' or 'serverset' (got 'zookeeper')",
        "register[2].address: address '10.0.0.5:99999': port 99999 out of range",
        "register[2].properties: port comes from address: not a property",
        "register[3].check.rise: should be greater than or equal to 1 (got 0)",
        "register[3].check.fall: should be a whole number (got 1.5)",
        "register[4]: should be a mapping (got 'not a mapping')",
        "feeds[0].services: should be a list (got '/services/web')",
        "feeds[0].min_fraction: should be less than or equal to 1 (got 2)",
        "feeds[1].providers: expected a path relative to each service ('providers', '.'), got '/abs'",
        "feeds[1].reload_interval: should be greater than or equal to 0 (got -1)",
        "feeds[2].services: should list at least one (got a list)",
        "feeds[2].output: required, but missing",
    ]]


def test_checks_that_need_the_whole_entry(site):
    path = write(site, "agent.yaml", """\
        register:
          - path: /s/providers
            address: "10.0.0.5:8080"
            properties: {host: x, port: 1}
          - path: /s/providers
            address: "10.0.0.5:8080"
            check: {}
          - path: /s/providers
            address: "10.0.0.5:8081"
            check: {http: "http://x/", tcp: "x:1"}
          - path: /s/providers
            address: "10.0.0.5:8082"
            properties: {nested: {value: .nan}}
        """)
    assert problems(path) == [f"{path}: {line}" for line in [
        "register[0].properties: host and port come from address: not a property",
        "register[1].check: give exactly one of http, tcp, command",
        "register[2].check: give exactly one of http, tcp, command (got http, tcp)",
        "register[3].properties: /s/providers/10.0.0.5:8082: property 'nested'.value: nan cannot be stored as JSON",
    ]]


def test_property_values_must_be_json(tmp_path):
    path = write(tmp_path, "agent.yaml", """\
        register:
          - path: /s/providers
            address: "10.0.0.5:8080"
            properties: {since: 2020-01-01, "my key": [1, !!binary aGk=], 3: x}
        """)
    assert problems(path) == [f"{path}: {line}" for line in [
        "register[0].properties.since: should be text, a number, true, false, null, a list or a mapping "
        "(got datetime.date(2020, 1, 1))",
        'register[0].properties["my key"][1]: should be text, a number, true, false, null, a list or a mapping '
        "(got b'hi')",
        "register[0].properties[3]: keys should be text (got 3)",
    ]]


def test_yaml_syntax_errors_name_the_line(tmp_path):
    path = write(tmp_path, "agent.yaml", """\
        register:
          - path: /a
            address: "1.2.3.4:5"
           bad: [
        """)
    (line,) = problems(path)
    assert line.startswith(f"{path}: line 4, column 4: YAML: ")
    path = write(tmp_path, "dup.yaml", "register: []\nfeeds: []\nregister: []\n")
    assert problems(path) == [f"{path}: line 3, column 1: YAML: duplicate key 'register' (first on line 1)"]
    path = write(tmp_path, "list.yaml", "- register\n")
    assert problems(path) == [f"{path}: expected a mapping of sections at the top, got a list"]
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"listen: '\xe9'\n")
    assert problems(path) == [f"{path}: not UTF-8 text (byte 9)"]


def test_a_broken_file_does_not_hide_the_problems_of_the_others(tmp_path):
    write(tmp_path, "a.yaml", "register: [\n")
    write(tmp_path, "b.yaml", "bogus: 1\n")
    found = problems(tmp_path)
    assert [p.split(": ")[0] for p in found] == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    assert found[1] == f"{tmp_path / 'b.yaml'}: bogus: unknown key"


def test_duplicates_across_entries_and_files(site):
    write(site, "a.yaml", """\
        register:
          - {path: /s/providers, address: "10.0.0.5:8080"}
          - {path: /s/providers, address: "10.0.0.5:8081"}
        feeds:
          - {name: web, services: [/s], template: json, output: out/a.json}
          - {services: [/s], template: json, output: out/b.json}
        """)
    write(site, "b.yaml", """\
        register:
          - {path: /s/providers, address: "10.0.0.5:08080"}
          - {path: /t/providers, address: "10.0.0.5:8080"}
          - {path: /s/providers, address: "10.0.0.5:8081", properties: {weight: 2}}
        feeds:
          - {name: web, services: [/t], template: json, output: out/c.json}
          - {name: b.json, services: [/t], template: json, output: out/d.json}
          - {name: other, services: [/t], template: json, output: out/a.json}
        """)
    (site / "out").mkdir(exist_ok=True)
    a, b = site / "a.yaml", site / "b.yaml"
    assert problems(site) == [
        f"{b}: register[0]: registers 10.0.0.5:08080 at /s/providers again (as register[0] in {a} does)",
        f"{b}: register[2]: registers 10.0.0.5:8081 at /s/providers again (as register[1] in {a} does)",
        f"{b}: feeds[0].name: feed name 'web' is also feeds[0] in {a}'s",
        f"{b}: feeds[1].name: feed name 'b.json' is also feeds[1] in {a}'s",
        f"{b}: feeds[2].output: feed output '{site}/out/a.json' is also feeds[0] in {a}'s",
    ]
    write(site, "a.yaml", """\
        feeds:
          - {services: [/s], template: json, output: out/x.json}
          - {services: [/t], template: json, output: other/x.json}
        """)
    (site / "b.yaml").unlink()
    (site / "other").mkdir()
    assert problems(site) == [
        f"{a}: feeds[1].output: feed name 'x.json' (the output file's name: give the feed a name) is also feeds[0]'s",
    ]


def test_templates_files_and_output_directories(site):
    (site / "templates").mkdir()
    (site / "templates" / "good.j2").write_text("{% for s in services %}{{ s.name }}\n{% endfor %}")
    (site / "templates" / "broken.j2").write_text("line one\n{% for s in services %}\n")
    (site / "json").write_text("{{ services | length }}\n")  # a file named like a shipped template wins
    path = write(site, "agent.yaml", """\
        feeds:
          - {name: a, services: [/s], template: templates/good.j2, output: out/a}
          - {name: b, services: [/s], template: templates/broken.j2, output: out/b}
          - {name: c, services: [/s], template: templates/missing.j2, output: out/c}
          - {name: d, services: [/s], template: templates, output: out/d}
          - {name: e, services: [/s], template: json, output: out}
          - {name: f, services: [/s], template: prometheus, output: out/f, snapshot: nowhere/f.json}
        """)
    found = problems(path)
    templates = site / "templates"
    assert found[0].startswith(f"{path}: feeds[1].template: template error: {templates}/broken.j2, line 2: ")
    assert found[1:] == [f"{path}: {line}" for line in [
        f"feeds[2].template: cannot read template {templates}/missing.j2: No such file or directory",
        f"feeds[3].template: cannot read template {templates}: Is a directory",
        f"feeds[4].output: {site}/out is a directory",
        f"feeds[5].snapshot: the directory of {site}/nowhere/f.json does not exist",
    ]]
    path = write(site, "agent.yaml", """\
        feeds:
          - {name: a, services: [/s], template: templates/good.j2, output: out/a}
          - {name: e, services: [/s], template: json, output: out/e}
        """)
    a, e = load_agent_config(path).feeds
    assert (a.template_file, a.template_text) == (f"{templates}/good.j2", (templates / "good.j2").read_text())
    assert (e.template_file, e.template_text) == (f"{site}/json", "{{ services | length }}\n")


def test_zookeeper_files_must_be_readable(tmp_path):
    path = write(tmp_path, "agent.yaml", """\
        zookeeper:
          auth_file: /nonexistent/auth
          tls: {ca: ca.pem, cert: ., key: host.key}
        """)
    assert problems(path) == [f"{path}: {line}" for line in [
        "zookeeper.auth_file: cannot read /nonexistent/auth: no such file",
        f"zookeeper.tls.ca: cannot read {tmp_path}/ca.pem: no such file",
        f"zookeeper.tls.cert: {tmp_path} is a directory",
        f"zookeeper.tls.key: cannot read {tmp_path}/host.key: no such file",
    ]]


def test_missing_configuration(tmp_path):
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file or directory"]
    assert problems(tmp_path) == [f"{tmp_path}: the directory holds no *.yaml file"]


def test_records_are_immutable_and_compare_by_value(site):
    path = write(site, "agent.yaml", EXAMPLE)
    one, two = load_agent_config(path), load_agent_config(path)
    assert one == two and one.register[0] == two.register[0] and one.feeds[0] == two.feeds[0]
    assert hash(one.register[0].check) == hash(two.register[0].check)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.register[0].address = "10.0.0.6:1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        one.register[0].properties["weight"] = 4  # type: ignore[index]
    assert isinstance(one.register, tuple) and isinstance(one.feeds[0].services, tuple)

    # one entry changed: only it differs; an entry moved to another file is the same entry
    changed = write(site, "agent.yaml", EXAMPLE.replace("weight: 3", "weight: 4").replace("max_wait: 0.8", "max_wait: 0.9"))
    three = load_agent_config(changed)
    assert three.register[0] != one.register[0] and three.register[0].key == one.register[0].key
    assert three.feeds[0] != one.feeds[0] and three.zookeeper == one.zookeeper
    directory = site / "d"
    directory.mkdir()
    (directory / "agent.yaml").write_text(EXAMPLE.replace("out/", "../out/").replace("state/", "../state/")
                                          .replace("auth_file: auth", "auth_file: ../auth")
                                          .replace("{ca: ca.pem, cert: host.pem, key: host.key}",
                                                   "{ca: ../ca.pem, cert: ../host.pem, key: ../host.key}"))
    moved = load_agent_config(directory)
    assert moved == one and moved.register[0].file != one.register[0].file

    # an edited template file makes a changed feed
    (site / "t.j2").write_text("one\n")
    path = write(site, "t.yaml", "feeds: [{name: t, services: [/s], template: t.j2, output: out/t}]\n")
    before = load_agent_config(path).feeds[0]
    (site / "t.j2").write_text("two\n")
    assert load_agent_config(path).feeds[0] != before


def test_properties_thaw_into_plain_values_for_writing(tmp_path):
    from zkservices._agent.config import thaw

    path = write(tmp_path, "agent.yaml", """\
        register:
          - {path: /s/providers, address: "10.0.0.5:1", properties: {tags: [a, {b: [1]}], weight: 2}}
        """)
    (entry,) = load_agent_config(path).register
    assert entry.properties["tags"] == ("a", {"b": (1,)})
    plain = thaw(entry.properties)
    assert plain == {"tags": ["a", {"b": [1]}], "weight": 2} and type(plain["tags"][1]) is dict


def test_problems_are_records_too():
    problem = ConfigProblem("a.yaml", "register[1].check.http", "unknown key")
    assert str(problem) == "a.yaml: register[1].check.http: unknown key"
    assert str(ConfigProblem("a.yaml", "", "no such file")) == "a.yaml: no such file"
    error = AgentConfigError([problem, problem])
    assert isinstance(error, ValueError) and isinstance(error, zkservices.ZkServicesError)
    assert error.problems == (problem, problem)


def test_import_zkservices_loads_no_validation_library():
    code = "import sys, zkservices; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(zkservices.__file__))).stdout
    assert out.strip() == "False"


def test_resync_jitter_in_the_zookeeper_section(site):
    assert load_agent_config(write(site, "agent.yaml", "zookeeper: {resync_jitter: 2.5}\n")).zookeeper == \
        ZooKeeperConfig(resync_jitter=2.5)
    assert load_agent_config(write(site, "agent.yaml", "zookeeper: {resync_jitter: 0}\n")).zookeeper.resync_jitter == 0
    assert load_agent_config(write(site, "agent.yaml", "zookeeper: {}\n")).zookeeper.resync_jitter is None


def test_read_only_in_the_zookeeper_section(site):
    path = write(site, "agent.yaml", "zookeeper: {read_only: true}\n")
    assert load_agent_config(path).zookeeper == ZooKeeperConfig(read_only=True)
    assert load_agent_config(write(site, "agent.yaml", "zookeeper: {read_only: false}\n")).zookeeper.read_only is False
    assert load_agent_config(write(site, "agent.yaml", "zookeeper: {}\n")).zookeeper.read_only is None
    bad = write(site, "agent.yaml", 'zookeeper: {read_only: "yes"}\n')
    assert problems(bad) == [f"{bad}: zookeeper.read_only: should be true or false (got 'yes')"]
