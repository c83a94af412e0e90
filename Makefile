# The first targets are the ones the README starts with: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv, installed first when missing, never into the system Python (scripts/uv says how). It compiles
# what it installs to bytecode: where Python may not write its caches (PYTHONDONTWRITEBYTECODE, a
# read-only install) every run would otherwise compile Dagster, dbt and pandas again on import,
# about half of a run's import time.
UV := PYTHON=$(PYTHON) UV_COMPILE_BYTECODE=1 scripts/uv
# A DAGSTER_HOME set in the environment is the user's own instance and is used as it is.
ifeq ($(strip $(DAGSTER_HOME)),)
DAGSTER_HOME := $(CURDIR)/.dagster_home
REPO_INSTANCE := 1
endif
export DAGSTER_HOME
MANIFEST := dbt_project/target/manifest.json
DBT_FILES := $(shell find dbt_project/models dbt_project/snapshots dbt_project/macros dbt_project/seeds dbt_project/tests -type f) dbt_project/dbt_project.yml

# A run on Spark (DEI_ENGINE=spark) needs Java, installed when missing; the test suite runs Spark too.
SPARK_JAVA := $(if $(filter spark,$(DEI_ENGINE)),java)
# The optional parts of the install the settings need (see the install rules below).
EXTRAS := $(if $(filter spark,$(DEI_ENGINE)),spark) $(if $(filter postgres,$(DEI_DAGSTER_STORAGE)),postgres)

.PHONY: run rebuild audit test test-quick test-cluster lint ui daemon dashboard docs docs-serve setup chromium java postgresql sample render clean postgres-up postgres-down cluster-up cluster-down

# CONFIRM=<source file> (space-separated for several): make the change held back for that landed file.
run: setup $(SPARK_JAVA) ## Materialize every asset on the landed feeds and print the headline indicators
	$(BIN)/python -m orchestration.cli run $(foreach file,$(CONFIRM),--confirm '$(file)')

# Every test is in one tier (pyproject.toml's markers): unit, integration (the real assets in
# process), spark (a JVM), e2e (`make run` or the CLI in a subprocess, a browser, a server).
# Two workers, a test file each at a time (the Spark files as one, in one JVM), the slow tiers'
# files first (tests/conftest.py does both; xdist's own reordering, by tests per file, would start
# the longest files last).
PYTEST_WORKERS := -n 2 --dist loadfile --no-loadscope-reorder
# The tests' temporary files (warehouses, Dagster instances, project copies, Spark lakes) go to
# tmpfs where there is one: on a disk each DuckDB checkpoint and SQLite or Derby commit waits for
# its sync, which made a run of the sample a quarter to a half slower on this machine. Pytest and
# the subprocesses it starts read TMPDIR; TEST_TMPDIR= keeps the system's.
TEST_TMPDIR ?= $(if $(wildcard /dev/shm/.),/dev/shm)
# The suite's Spark JVMs live a few minutes and run many small queries: the optimizing JIT compiler
# (C2) costs them CPU that no wall time repays while the suite keeps both cores busy, so they compile
# with C1 alone. C1 alone shrinks the code cache to 48 MB, which the Spark tests fill (the JVM then
# stops compiling): it gets the tiered default, 240 MB. The serial collector has no concurrent
# threads to feed. The two Spark test files on one idle machine: 280 CPU-s as the JVM starts by
# default, 251-266 with C1 alone, 178 with all three.
SPARK_TEST_JVM := -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -XX:+UseSerialGC
PYTEST := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) SPARK_SUBMIT_OPTS="$(SPARK_TEST_JVM) $$SPARK_SUBMIT_OPTS" $(BIN)/python -m pytest
# The cluster test (tests/test_cluster.py, 30-60 s of JVMs on this machine) runs apart: `make test-cluster`.
test: lint $(VENV)/.installed-dev chromium java ## Lint, then every tier of the test suite, the browser tests included, the cluster test not
	$(PYTEST) $(PYTEST_WORKERS) -m "not cluster" --durations=15

# The unit tests and the integration tests that read the one sample run they share (`quick`):
# about 3.3 CPU-minutes, and 0.8 for the lint, so some 2 minutes on two idle cores, half of it the
# sample run on each worker. The integration tests that run the pipeline on landing zones of their
# own, Spark and e2e are left to `make test`.
test-quick: lint $(VENV)/.installed-dev ## Lint, then the unit tests and the integration tests on the shared sample run (no Spark, no subprocess run, no browser)
	$(PYTEST) $(PYTEST_WORKERS) -m "unit or (integration and quick)"

test-cluster: setup $(VENV)/.installed-dev java ## The Spark standalone cluster test: cluster-up, a job on both workers, cluster-down
	$(PYTEST) tests/test_cluster.py

# sqlfluff's dbt templater compiles every model; incremental models ask the database whether
# they exist, so it compiles against an empty in-memory one, never the warehouse, and keeps its
# parse state apart from the one runs start from.
lint: setup $(VENV)/.installed-dev ## ruff on the Python, the import layers (pyproject.toml), sqlfluff on the dbt models
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DEI_ENGINE=duckdb DEI_WORKING_DB=:memory: DEI_HISTORY_DB=:memory: DBT_TARGET_PATH=target/lint $(BIN)/sqlfluff lint dbt_project/models --processes 2

LIMIT ?= 20

audit: $(VENV)/.installed ## The last run's load audit (file by file) and its quarantined rows (LIMIT per feed, default 20), from the working database
	@$(BIN)/python -m orchestration.cli audit --limit $(LIMIT)

rebuild: setup $(SPARK_JAVA) ## Move the working database (and its WAL) aside, kept, then rebuild it from the landed files as `make run` does
	$(BIN)/python -m orchestration.cli rebuild

UI_PORT ?= 3000

# `dagster dev` warns that `dg dev` supersedes it; `dg dev` serves a project laid out for the dg
# command line (its own package layout and code location), which this one is not: the notice is
# silenced, nothing else is.
ui: setup $(VENV)/.installed-ui ## Dagster UI on http://127.0.0.1:$(UI_PORT) (UI_PORT=...), same instance as `make run`
	PYTHONWARNINGS='ignore:Function `dev_command` is superseded:FutureWarning' $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

daemon: setup ## Dagster's daemon alone (the sensor, the schedule, the run queue), for an instance the UI and runs share from other processes
	$(BIN)/dagster-daemon run -w workspace.yaml

DASHBOARD_PORT ?= 8088

dashboard: setup ## Apache Superset with the committed dashboard on the published database, on http://127.0.0.1:$(DASHBOARD_PORT)
	$(BIN)/python -m orchestration.tools.dashboard --port $(DASHBOARD_PORT)

WAREHOUSE_DIR := $(abspath $(or $(DEI_WAREHOUSE_DIR),warehouse))

DOCS_ENV = DEI_WORKING_DB=$(WAREHOUSE_DIR)/working.duckdb DEI_HISTORY_DB=$(WAREHOUSE_DIR)/history.duckdb DBT_TARGET_PATH=target/docs
DOCS_PORT ?= 8580

# One self-contained page (static_index.html: the site with its manifest and catalog inside) opens
# from the file; index.html needs a server (`make docs-serve`), as it fetches the two JSON files.
docs: setup ## Build the dbt docs site: open dbt_project/target/docs/static_index.html in a browser
	@# With a built warehouse the site shows column types and row counts; without, the docs alone.
	cd dbt_project && $(DOCS_ENV) ../$(BIN)/dbt docs generate --static --profiles-dir . \
		$(if $(wildcard $(WAREHOUSE_DIR)/working.duckdb),,--empty-catalog)
	@echo "dbt docs: open dbt_project/target/docs/static_index.html in a browser (or: make docs-serve, on http://127.0.0.1:$(DOCS_PORT))"

docs-serve: docs ## Serve the dbt docs site on http://127.0.0.1:$(DOCS_PORT) (DOCS_PORT=...)
	cd dbt_project && $(DOCS_ENV) ../$(BIN)/dbt docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser --profiles-dir .

setup: $(VENV)/.installed $(addprefix $(VENV)/.installed-,$(EXTRAS)) $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml

# Debian packages the tests need are installed with apt-get, through sudo unless run as root.
APT_GET := $(strip $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get)

# The browser test drives Debian's Chromium; Playwright never downloads a browser of its own.
chromium:
	@test -x /usr/bin/chromium || { $(APT_GET) update -qq && $(APT_GET) install -y -qq chromium; }

# The install is sized to the job: the DuckDB pipeline; then what a setting or a command needs as
# extras of pyproject.toml (ui: make ui; spark: DEI_ENGINE=spark, make cluster-up; postgres:
# DEI_DAGSTER_STORAGE=postgres, make postgres-up, make cluster-up); the test and lint tools (the
# dev group, with every extra, as the suite runs on Spark and PostgreSQL too) for make test and
# make lint. --inexact: a later, smaller install never removes what an earlier one added. (EXTRAS,
# what the settings need, is set at the top: prerequisites are expanded where a rule is read.)

# Quiet unless it fails (uv then prints what went wrong).
$(VENV)/.installed: pyproject.toml uv.lock
	@echo "Installing the locked environment into $(VENV) ..."
	@$(UV) sync --frozen --inexact --no-dev --quiet
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	@echo "Installing the test and lint tools and every extra into $(VENV) ..."
	@$(UV) sync --frozen --inexact --all-extras --group dev --quiet
	@touch $@

$(VENV)/.installed-%: $(VENV)/.installed
	@echo "Installing the $* extra into $(VENV) ..."
	@$(UV) sync --frozen --inexact --no-dev --extra $* --quiet
	@touch $@

# dagster-dbt reads the manifest when the code location loads, and each run starts from dbt's
# partial-parse state beside it (parsed with the profile's default path): rebuilt whenever dbt files change.
$(MANIFEST): $(VENV)/.installed $(DBT_FILES)
	@cd dbt_project && env -u DEI_WORKING_DB -u DEI_HISTORY_DB -u DEI_DUCKDB_MEMORY_LIMIT -u DEI_ENGINE ../$(BIN)/dbt parse --profiles-dir . --target duckdb --quiet --no-send-anonymous-usage-stats
	@touch $@

# The repo's instance settings (the warehouse pool's limit) go into a new instance; .dagster_home
# follows the repo's file, a user's own dagster.yaml is never overwritten. DEI_DAGSTER_STORAGE=postgres
# adds dagster-postgres.yaml (storage in PostgreSQL at $$DEI_DAGSTER_PG_URL); switching either way
# rewrites .dagster_home's file.
INSTANCE_YAML := dagster.yaml $(if $(filter postgres,$(DEI_DAGSTER_STORAGE)),dagster-postgres.yaml)
ifneq ($(REPO_INSTANCE),)
ifneq ($(shell grep -qs postgres_url $(DAGSTER_HOME)/dagster.yaml && echo postgres),$(filter postgres,$(DEI_DAGSTER_STORAGE)))
.PHONY: $(DAGSTER_HOME)/dagster.yaml
endif
endif
$(DAGSTER_HOME)/dagster.yaml: $(if $(REPO_INSTANCE),$(INSTANCE_YAML))
	@mkdir -p $(DAGSTER_HOME)
	@cat $(INSTANCE_YAML) > $@

# A local PostgreSQL for the instance, on 127.0.0.1 only, password-only (scram-sha-256; the generated
# password in a 0600 file the printed URL names), its data under .cache/postgres (as root, under the
# postgres user's home: see DEI_POSTGRES_DIR in docs/operations.md); Debian's
# server is installed when missing, as the browser is.
POSTGRES_PORT ?= 5433

postgresql:
	@command -v pg_config >/dev/null && test -x "$$(pg_config --bindir)/initdb" || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(APT_GET) update -qq && $(APT_GET) install -y -qq postgresql; }

postgres-up: $(VENV)/.installed-postgres postgresql ## Start PostgreSQL for Dagster's instance on 127.0.0.1:$(POSTGRES_PORT) (password only) and print its DEI_DAGSTER_PG_URL
	$(BIN)/python -m orchestration.tools.postgres up --port $(POSTGRES_PORT)

postgres-down: $(VENV)/.installed-postgres ## Stop the local PostgreSQL started by postgres-up
	$(BIN)/python -m orchestration.tools.postgres down

# A Spark standalone master and two one-core workers from the Spark inside the pyspark wheel, and
# the instance's PostgreSQL, all on 127.0.0.1; pid files and logs in .cache/cluster. Debian's Java
# is installed when missing, as the browser is.
SPARK_PORT ?= 7077
SPARK_WEBUI_PORT ?= 8080
SPARK_WORKER_WEBUI_PORTS ?= 8081 8082

java:
	@command -v java >/dev/null || test -n "$$JAVA_HOME" || { $(APT_GET) update -qq && $(APT_GET) install -y -qq openjdk-17-jre-headless; }

cluster-up: $(VENV)/.installed-spark $(VENV)/.installed-postgres java postgresql ## Start a Spark master (spark://127.0.0.1:$(SPARK_PORT), UI :$(SPARK_WEBUI_PORT)), two workers and PostgreSQL; print the settings a run uses
	$(BIN)/python -m orchestration.tools.cluster up --port $(SPARK_PORT) --webui-port $(SPARK_WEBUI_PORT) --worker-webui-ports $(SPARK_WORKER_WEBUI_PORTS) --postgres-port $(POSTGRES_PORT)

cluster-down: $(VENV)/.installed-spark $(VENV)/.installed-postgres ## Stop what cluster-up started
	$(BIN)/python -m orchestration.tools.cluster down

sample: $(VENV)/.installed ## Regenerate the committed sample feeds (deterministic)
	$(BIN)/python -m orchestration.samplegen --out sources

render: $(VENV)/.installed ## Re-render the files derived from the contracts, the indicator catalog and the audit's DDL
	$(BIN)/python -m orchestration.cli.render

clean: ## Remove what a run or the tests rebuild; warehouse/history.duckdb stays (release history cannot be rebuilt from the landed files)
	test ! -d warehouse || find warehouse -mindepth 1 -maxdepth 1 ! -name history.duckdb ! -name history.duckdb.wal -exec rm -rf {} +
	rm -rf dbt_project/target dbt_project/logs .pytest_cache test-output .cache
