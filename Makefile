# The two commands of the README, and the steps they are made of. Everything is installed here:
# uv (into .tools/), Python packages (uv.lock, into .venv/), Kafka's jars and mongod (deploy/local),
# and composecheck and kustomizecheck (deploy/tools: compose-go and kustomize's library, from the Go
# module proxy, each with its go.sum).
SHELL := /bin/bash
export UV_PYTHON ?= python3.11
export UV_PYTHON_DOWNLOADS := never
UV := .tools/bin/uv
UV_VERSION := 0.13.8
PY := .venv/bin/python
COMPOSECHECK := .tools/bin/composecheck
KUSTOMIZECHECK := .tools/bin/kustomizecheck
GO_BUILD := GOPATH=$(CURDIR)/.tools/go GOFLAGS=-modcacherw go build -mod=readonly

.PHONY: install lint test demo down status schemas bench bench-scoring bench-reporting fuzz soak chaos

$(UV):
	python3.11 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(COMPOSECHECK): $(UV) $(wildcard deploy/tools/composecheck/*)
	cd deploy/tools/composecheck && $(GO_BUILD) -o $(CURDIR)/$(COMPOSECHECK) .

$(KUSTOMIZECHECK): $(UV) $(wildcard deploy/tools/kustomizecheck/*)
	cd deploy/tools/kustomizecheck && $(GO_BUILD) -o $(CURDIR)/$(KUSTOMIZECHECK) .

install: $(UV) $(COMPOSECHECK) $(KUSTOMIZECHECK)
	$(UV) sync --frozen
	$(PY) deploy/local/infra.py install kafka

# The gate: formatting, lint and types, zero findings (settings in pyproject.toml).
lint: install
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/mypy

test: lint
	$(PY) -m pytest

# make demo REPLICAS=3: three instances of each service (deploy/local/stack.py).
demo: install
	$(PY) deploy/local/stack.py up --replicas $(or $(REPLICAS),1)
	$(PY) deploy/local/demo.py

down:
	@if [ -x $(PY) ]; then $(PY) deploy/local/stack.py down; else echo "nothing installed, nothing running"; fi

status: install
	$(PY) deploy/local/stack.py status

schemas: install
	$(UV) run crm-export-schemas

bench: install
	$(PY) tests/benchmarks/pipeline.py

bench-scoring: install
	cd tests/benchmarks && ../../$(PY) scoring.py

bench-reporting: install
	cd tests/benchmarks && ../../$(PY) reporting.py

# The fuzzing of make test, longer: 200 examples per HTTP operation (each as every role and as no
# one), 50,000 bad records on the event path.
fuzz: install
	FUZZ_EXAMPLES=200 FUZZ_RECORDS=50000 $(PY) -m pytest -p no:cacheprovider \
		tests/e2e/test_http_fuzz.py tests/integration/test_event_fuzz.py

# The fault suite at full size (make test runs a smaller one): over 20,000 events through the APIs
# and Kafka while instances, the broker and mongod are SIGKILLed; prints kills, recovery, drain.
chaos: install
	CHAOS_SIZE=full $(PY) -m pytest -p no:cacheprovider -s tests/e2e/test_chaos.py

# Not in CI: 30 minutes at a steady rate, each process's memory and each consumer's lag over time.
soak: install
	$(PY) tests/benchmarks/soak.py
