# The two commands of the README:
#   make demo   -- start a local ZooKeeper and run the zkservices demo
#   make test   -- run the whole test suite against real ZooKeeper servers
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

# The session, asyncio, TLS and discovery tests on the oldest kazoo setup.cfg allows (pinned)
# and on the newest on PyPI, each in its own environment (.venv-kazoo-oldest, .venv-kazoo-newest).
.PHONY: test-compat
test-compat:
	@PYTEST_ARGS="$(PYTEST_ARGS)" scripts/test-compat

bench: bootstrap
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
