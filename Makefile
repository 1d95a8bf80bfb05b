# The two commands of the README:
#   make demo   -- start a local ZooKeeper and run the zkservices demo
#   make test   -- run the whole test suite against real ZooKeeper servers
# Both set up everything themselves (scripts/bootstrap).
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: demo test bench bootstrap clean

bootstrap:
	@VENV=$(VENV) scripts/bootstrap

demo: bootstrap
	$(VENV)/bin/zkservices demo

test: bootstrap
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: bootstrap
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
