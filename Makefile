# kim-platform: `make run` serves the platform, `make test` runs the suite.
# Every step is idempotent; a second run reuses the venv, the cluster and the data.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export KIM_PG_PORT ?= 54329
HOST ?= 127.0.0.1
PORT ?= 5000
# Absolute links (mails, feeds) point here; set it to the public address when serving for others.
export KIM_BASE_URL ?= http://$(HOST):$(PORT)
WORKERS ?= 5
# Test processes (pytest-xdist, a database each: kim_test_gw0, ...); a file stays on one process.
TEST_WORKERS ?= 2
# chromium: Debian's browser for the Playwright tests (never a downloaded browser build).
SYSTEM_PACKAGES := postgresql-15 postgresql-15-postgis-3 chromium redis-server
# What `make cluster` runs besides PostgreSQL (scripts/cluster.sh): Debian's, never downloaded builds.
CLUSTER_PACKAGES := pgbouncer nginx redis-server
TEST_DB_NAME := kim_test
# The suite's own Redis (scripts/redis.sh): the job queue and shared-state tests use a database of
# it per test process; the app under test keeps per-process state unless a test points it here.
export KIM_REDIS_PORT ?= 56379
export KIM_TEST_REDIS_URL ?= redis://127.0.0.1:$(KIM_REDIS_PORT)

# `make bench BENCH_DATABASE_URL=...`: the benchmark against an existing national database.
ifneq ($(strip $(BENCH_DATABASE_URL)),)
  export DATABASE_URL := $(BENCH_DATABASE_URL)
endif

# Without DATABASE_URL the project runs its own cluster under instance/pgdata.
ifeq ($(strip $(DATABASE_URL)),)
  USE_PRIVATE_DB := 1
endif

.PHONY: run serve test test-serial system venv db db-stop redis redis-stop db-dev db-test migrate data translations demo demo-national test-adversarial bench bench-workers bench-map bench-coverage bench-pages bench-campaign \
        translations-update cluster cluster-stop cluster-status test-cluster \
        vendor clean-venv

run: venv db-dev data demo
	@echo "Serving http://$(HOST):$(PORT)  (Ctrl-C stops; 'make db-stop' stops PostgreSQL)"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

serve: venv db-dev data
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - 'kim_platform:create_app()'

test: venv db-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# One process (a debugger, or a test that must run alone).
test-serial: venv db-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# System packages: installed with apt only when we are root and something is missing.
system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "Installing system packages:$$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    elif [ -n "$(USE_PRIVATE_DB)" ]; then \
	        echo "Missing system packages:$$missing. Run 'sudo apt-get install$$missing' or 'make' as root."; exit 1; \
	    fi; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the declared dependencies change.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

venv: system $(VENV)/.installed translations

translations: $(VENV)/.installed
	@$(BIN)/pybabel compile -d kim_platform/translations >/dev/null

# After adding or changing interface strings: refresh the catalogue, then translate the new entries.
translations-update: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l --add-comments=TRANSLATORS: \
	    --project kim-platform -o kim_platform/translations/messages.pot .
	$(BIN)/pybabel update -i kim_platform/translations/messages.pot -d kim_platform/translations \
	    --no-fuzzy-matching

ifdef USE_PRIVATE_DB
db: system
	@scripts/db.sh start

db-dev: db
	@scripts/db.sh createdb kim
	$(BIN)/flask db upgrade

db-test: db redis
	@scripts/db.sh createdb $(TEST_DB_NAME)

db-stop:
	@scripts/db.sh stop
else
db:
	@echo "Using DATABASE_URL; the private cluster is not started."
db-test: redis
	@echo "Using DATABASE_URL; the private cluster is not started."
db-dev:
	$(BIN)/flask db upgrade
db-stop:
	@echo "DATABASE_URL is set: no private cluster to stop."
endif

migrate: db-dev

redis: system
	@scripts/redis.sh start

redis-stop:
	@scripts/redis.sh stop

# Full Indonesian region data and the bidang taxonomy; a no-op (seconds) when already loaded.
data: db-dev
	$(BIN)/flask regions load
	$(BIN)/flask bidang load
	$(BIN)/flask activities load-types
	$(BIN)/flask maps prepare

# A moderate demo set so a newcomer sees a living map (marked as demo; `flask demo clear`).
demo: db-dev data
	$(BIN)/flask demo generate --kims 5000 --activities 50000 --seed 1 --if-empty

# The national scale: one KIM for most desa and a million reports (about a minute).
demo-national: db-dev data
	$(BIN)/flask demo clear
	$(BIN)/flask demo generate --kims 84000 --activities 1000000 --seed 1

# Map figures against the naive folium pages (run after `make demo-national`).
# The long adversarial checks (README "Security and reliability"): bandit, then crash safety,
# brute force across workers (with Debian's redis-server), a soak (SOAK_SECONDS, default 600) and a
# wapiti scan (WAPITI_SECONDS, default 300). ADVERSARIAL_CHECKS picks some of: crash brute soak wapiti.
test-adversarial: venv db-dev data demo
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="redis-server wapiti"
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,adversarial]'
	$(BIN)/bandit -q -r kim_platform -ll
	$(BIN)/python tests/adversarial/run.py $(ADVERSARIAL_CHECKS)

# The whole benchmark (issue 20): installs Debian's wrk (as root), loads the national demo set
# (timed), measures the bare ceiling app and every public read, tile and post against it in the same
# run; one table and bench/results/<date>.json. BENCH_SKIP_GENERATE=1 keeps a loaded national set,
# BENCH_DATABASE_URL points at an existing one; BENCH_SECONDS (5), BENCH_WORKERS, BENCH_WORKER_CLASS.
# Never part of `make test`.
bench: venv db-dev data
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="wrk"
	$(BIN)/python bench/platform_bench.py

# Worker class and count: the ceiling and the KIM detail under each setting of BENCH_COMPARE.
BENCH_COMPARE ?= sync:5,sync:3,gthread:5x4,gthread:3x8
bench-workers: venv db-dev data
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="wrk"
	BENCH_COMPARE="$(BENCH_COMPARE)" $(BIN)/python bench/platform_bench.py

bench-map: venv db-dev data
	$(BIN)/python bench/map_bench.py

bench-coverage: venv db-dev data
	$(BIN)/python bench/coverage_bench.py

# Campaign reach: a national campaign with 200,000 disseminations over the national demo KIMs
# (generated when missing; BENCH_KIMS, BENCH_DISSEMINATIONS), p50/p95 of its dashboard figures.
bench-campaign: venv db-dev data
	$(BIN)/python bench/campaign_reach.py

# Light pages (after `make demo`): bytes per volunteer page on a first and a repeat visit and the
# first paint of "Lapor kegiatan", in Debian's Chromium with Lighthouse's mobile profile.
bench-pages: venv db-dev data demo
	$(BIN)/python bench/light_pages.py

# The multi-node topology on this machine (README "Running a cluster on one machine"): primary and
# replica PostgreSQL, pgbouncer, Redis, two app nodes, the job worker, nginx on
# http://127.0.0.1:8341, all under instance/cluster/. A second run reuses the data.
cluster: venv
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="$(CLUSTER_PACKAGES)"
	scripts/cluster.sh start

cluster-stop:
	scripts/cluster.sh stop

cluster-status:
	@scripts/cluster.sh status

# The tests of the topology and its faults (tests_cluster/, never part of `make test`): they start
# the cluster and stop it at the end (KIM_CLUSTER_KEEP=1 leaves it running).
test-cluster: venv
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="$(CLUSTER_PACKAGES)"
	$(BIN)/python -m pytest -p no:cacheprovider tests_cluster $(PYTEST_ARGS)

# Refresh vendored front-end libraries from the npm registry (the results are committed).
vendor:
	scripts/vendor.sh

clean-venv:
	rm -rf $(VENV)
