# The two commands of the README:
#   make demo   -- start a local ZooKeeper and run the zkservices demo
#   make test   -- run the whole test suite against real ZooKeeper servers
#   make test-zk39 -- the server tests again, against ZooKeeper 3.9 (fetched by bootstrap --test)
#   make test-unit -- only the tests that need no server (-m "not zookeeper"), on 2 workers, in under a minute
# Both set up everything themselves (scripts/bootstrap).
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: demo test test-unit bench bootstrap bootstrap-test clean

bootstrap:
	@VENV=$(VENV) scripts/bootstrap

# The test command also needs haproxy and nginx (the shipped templates are validated with them).
bootstrap-test:
	@VENV=$(VENV) scripts/bootstrap --test

demo: bootstrap
	$(VENV)/bin/zkservices demo

test: bootstrap-test
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# A classpath that does not exist: a test that starts a server anyway fails instead.
test-unit: bootstrap
	ZOOKEEPER_CLASSPATH=/nonexistent/no-server-in-unit-tests.jar $(VENV)/bin/python -m pytest -m "not zookeeper" --hypothesis-profile=quick -n 2 $(PYTEST_ARGS)

bench: bootstrap
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info

# --- ZooKeeper 3.9: the server tests again, against the 3.9 that bootstrap --test fetches ----
# (scripts/zookeeper/pom.xml pins it; .zookeeper/<version>/lib).  The directories whose
# tests talk to a server: session, discovery, feed, the testing package (servers, TLS,
# the ensemble) and the command line's TLS sessions and dev server; -m zookeeper leaves
# out what runs no server (it behaves the same whatever the server's version).
ZK39_TESTS ?= tests/session tests/discovery tests/feed tests/testing tests/cli/test_session.py tests/cli/test_dev_server.py
.PHONY: test-zk39
test-zk39: bootstrap-test
	$(VENV)/bin/python -m pytest --zk-version 3.9 -m zookeeper $(ZK39_TESTS) $(PYTEST_ARGS)
# --- end of the ZooKeeper 3.9 block ---------------------------------------------------
