# The commands (the first two are the README's):
#   make demo   -- start a local ZooKeeper and run the zkservices demo
#   make test   -- the checks below, then the whole test suite against real ZooKeeper servers
#   make check  -- the checks that guard the layout (seconds): ruff, mypy, import-linter (lint-imports)
#   make test-zk39 -- the server tests again, against ZooKeeper 3.9 (fetched by bootstrap --test)
#   make test-unit -- only the tests that need no server (-m "not zookeeper"), on 2 workers, in under a minute
#   make dist   -- the sdist and the wheel in dist/, checked with twine check --strict
#   make docs   -- the documentation (docs/), warnings as errors, into docs/_build/html
#   make bench-fleet -- fan-out: many sessions' views against Curator ServiceCaches (C, P, M)
#   make bench-herds -- a leader kill and an ensemble-wide session loss, fleets against Curator (C, P)
#   make bench-growth -- growth curves: registrations, views, children per view (GROWTH_MAX)
#   make soak   -- SOAK_MINUTES (30) of churn, expiries, partitions and agent reloads; flat or it fails (root)
# Each sets up everything itself (scripts/bootstrap).
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: demo test check test-unit bench dist docs bootstrap bootstrap-test bootstrap-docs clean

bootstrap:
	@VENV=$(VENV) scripts/bootstrap

# The test command also needs haproxy and nginx (the shipped templates are validated with them).
bootstrap-test:
	@VENV=$(VENV) scripts/bootstrap --test

# The documentation's tools alone (the docs extra), for make docs and make test-unit.
bootstrap-docs:
	@VENV=$(VENV) scripts/bootstrap --docs

demo: bootstrap
	$(VENV)/bin/zkservices demo

# The README's test command: the checks, the documentation (built with warnings as errors),
# the whole suite (newest kazoo, Debian's ZooKeeper 3.8; with the docs' examples as doctests),
# the server tests again on ZooKeeper 3.9, and the compatibility runs (oldest and newest kazoo).
# Each pytest run takes two pytest-xdist workers, each with servers of its own: the suite
# waits on servers (timeouts, expiries) more than it computes, so on 2 cores two workers take
# about half the time of one (5.5 min against 10.5 for the whole suite).
test: bootstrap-test check docs
	$(VENV)/bin/python -m pytest -n 2 $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-zk39
	@$(MAKE) --no-print-directory test-compat

# Configured in the repository: ruff in pyproject.toml, mypy and the import contracts in setup.cfg.
# The tools come with the test extra, which bootstrap installs (no load balancers needed).
check: bootstrap
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo

# A classpath that does not exist: a test that starts a server anyway fails instead.
test-unit: bootstrap-docs
	ZOOKEEPER_CLASSPATH=/nonexistent/no-server-in-unit-tests.jar $(VENV)/bin/python -m pytest -m "not zookeeper" --hypothesis-profile=quick -n 2 $(PYTEST_ARGS)

# The session, asyncio, TLS and discovery tests on the oldest kazoo setup.cfg allows (pinned)
# and on the newest on PyPI, each in its own environment (.venv-kazoo-oldest, .venv-kazoo-newest).
.PHONY: test-compat
test-compat:
	@PYTEST_ARGS="$(PYTEST_ARGS)" scripts/test-compat

bench: bootstrap
	$(VENV)/bin/python bench/run.py

# Fan-out (bench/fleet.py): C sessions' providers() views of one service of P providers,
# M changes, against as many Curator 5.4 ServiceCaches in one JVM on the same server.
# Not part of make test (tests/test_bench_fleet.py runs a small one).  Needs the Curator
# jars and javac (bootstrap --test).  make bench-fleet C=10 P=10,100 M=12
C ?= 10,100
P ?= 10,100
M ?= 12
.PHONY: bench-fleet
bench-fleet: bootstrap-test
	$(VENV)/bin/python bench/fleet.py --clients $(C) --providers $(P) --changes $(M)

# Election and expiry herds (bench/herds.py): fleets of C sessions (zkservices, zkservices with
# resync_jitter, Curator 5.4), each a providers() view of P providers and a registration, through
# a leader kill and an ensemble-wide session loss on a 3-member ensemble.  Not part of make test
# (tests/test_bench_herds.py runs a small one).  Needs the Curator jars and javac (bootstrap --test).
# make bench-herds C=20 P=50.  Its own defaults, since bench-fleet's C and P are lists.
HERDS_C ?= 20
HERDS_P ?= 50
.PHONY: bench-herds
bench-herds: bootstrap-test
	$(VENV)/bin/python bench/herds.py --clients $(if $(filter command line,$(origin C)),$(C),$(HERDS_C)) --providers $(if $(filter command line,$(origin P)),$(P),$(HERDS_P))

# Growth curves (bench/growth.py): one session's registrations (10 -> 10,000), views
# (10 -> 100,000) and one view's children (10 -> 100,000): time, memory per item, recovery
# after an expiry (and a dropped connection), change latency, and where each curve bends.
# Not part of make test (tests/test_bench_growth.py runs the tiniest sizes).  The default
# stops at 10,000 (about 5 minutes on 2 cores); make bench-growth GROWTH_MAX=100000 for the
# issue's 100,000 views and children (about 15 minutes more, under 1 GB).
GROWTH_MAX ?= 10000
.PHONY: bench-growth
bench-growth: bootstrap-test
	$(VENV)/bin/python bench/growth.py --max $(GROWTH_MAX)

# The soak (bench/soak.py): a minute of 5 % and of 20 % packet loss while writing (the suite runs
# 10 s of each), then SOAK_MINUTES of churn, session expiries, partitions and agent reloads on one
# client process, whose RSS, Python heap, threads and open file descriptors must stay within 5 % after the
# warm-up.  Root only (network namespaces, nftables).  Not part of make test
# (tests/test_bench_soak.py runs a 25-second smoke of the driver).  make soak SOAK_MINUTES=3
SOAK_MINUTES ?= 30
.PHONY: soak
soak: bootstrap-test
	ZKSERVICES_LOSS_SECONDS=60 $(VENV)/bin/python -m pytest -s -k packet_loss tests/session/test_network_faults.py $(PYTEST_ARGS)
	$(VENV)/bin/python bench/soak.py --minutes $(SOAK_MINUTES)

# The wheel is built from the sdist (build's default), so it holds only what the sdist does.
dist: bootstrap
	rm -rf dist
	$(VENV)/bin/python -m build --outdir dist .
	$(VENV)/bin/python -m twine check --strict dist/*

# Sphinx with warnings as errors; --keep-going reports every warning, not the first.
# The HTML lands in docs/_build/html (index.html).  The pages' examples run in make test.
docs: bootstrap-docs
	$(VENV)/bin/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build

# --- ZooKeeper 3.9: the server tests again, against the 3.9 that bootstrap --test fetches ----
# (scripts/zookeeper/pom.xml pins it; .zookeeper/<version>/lib).  The directories whose
# tests talk to a server: session, discovery, feed, the testing package (servers, TLS,
# the ensemble) and the command line's TLS sessions and dev server; -m zookeeper leaves
# out what runs no server (it behaves the same whatever the server's version).
ZK39_TESTS ?= tests/session tests/discovery tests/feed tests/testing tests/cli/test_session.py tests/cli/test_dev_server.py
.PHONY: test-zk39
test-zk39: bootstrap-test
	$(VENV)/bin/python -m pytest --zk-version 3.9 -m zookeeper -n 2 $(ZK39_TESTS) $(PYTEST_ARGS)
# --- end of the ZooKeeper 3.9 block ---------------------------------------------------
