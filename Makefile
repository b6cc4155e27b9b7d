# Facade: `make up` installs what is missing and runs the control plane; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEBS := iproute2 nftables libnftables1 iperf3 curl procps util-linux bubblewrap catatonit libseccomp2 wireguard-go wireguard-tools openssl \
  postgresql frr chromium node-typescript
STAMP_DEBS := $(VENV)/.debs-ok
STAMP_PY := $(VENV)/.deps-ok

.PHONY: up test soak check lint bench bench-scale cleanup deps

deps: $(STAMP_DEBS) $(STAMP_PY)

$(STAMP_DEBS): Makefile
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@mkdir -p $(VENV) && touch $@

# requirements/dev.lock: the runtime lock and the tests' and checks' packages, every one pinned
# with the hashes of its files (requirements/lock.py writes both locks and says how to change
# a pin); the project itself, editable, adds nothing (--no-deps).
$(STAMP_PY): pyproject.toml requirements/runtime.lock requirements/dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements/dev.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

up: deps
	$(VENV)/bin/facade up

# The unit tests (pure and fast, no controller thread) and the service tests (the API with its
# controller running on the fake driver) run on both cores (file by file). The API fuzzing
# then runs in two processes side by side, each with about half the cases (schemathesis's
# cases share node ids, so pytest-xdist cannot hand them out: it would run one case per id). The kernel tests run in two pytest-xdist workers, each in a
# sandbox of its own (tests/integration/sandbox: network, mount and PID namespaces, a private
# /run), a module at a time, the slowest first (tests/integration/conftest.py); a test run's
# cleanup touches only its own control plane's control groups (`facade cleanup --this-plane`).
# The data-plane contract suite runs there too (its fake half also in `make check`).
# Measured on 2026-12-06 (docs/guarantees.md, "Time"): 9 min 2 s in a quiet hour (unit and
# service 162 s, fuzzing 118 s, kernel tests 261 s, where one fuzzing process took 270 s and the
# kernel tests one module at a time 444 s in the same hour), 11-12 min with other engineers'
# kernel tests and benchmarks beside it. The kernel tests use about 340 s of CPU: two workers
# fill the two cores, a third would mostly wait.
PYTEST := $(PY) -m pytest -q -p no:cacheprovider
FUZZ := tests/service/test_api_fuzz.py
# about half the cases (3,190 of 6,518 on 2026-12-06; the other half: the operator's invalid
# requests and an account's, 3,328, and any test added to the file); each half counts its own
FUZZ_HALF := test_operator_requests or test_anonymous_requests
KERNEL_WORKERS := --tx '2*popen//python=tests/integration/sandbox $(PY)' --dist loadfile \
  --no-loadscope-reorder
# The suite above runs on SQLite, with the tests that need PostgreSQL whatever the store (two
# control planes on one database, the migrations up and down). Then on PostgreSQL
# (docs/postgresql.md; a throwaway server per worker, tests/pg.py): service tests that lean on
# the store most (allocation under contention, names per account, read snapshots) and two
# kernel modules (an appliance end to end; restarts adopting the kernel, drift repaired), in
# the kernel tests' sandboxed workers. The whole unit and service suite passes on PostgreSQL
# too, but does not fit the budget: tried again on 2026-12-07 after its CPU was cut (one API app
# per test process, the `no_store` modules left out: about 375 s of CPU), beside the kernel tests
# it took 474 s where they took 513 s (316 s without it) and failed one of them, and `make test`
# came to 15 min 6 s plus about 45 s for the kernel modules on PostgreSQL at load average 3-6
# (docs/guarantees.md, "Time").
PG_TESTS := tests/integration/test_appliance_e2e.py tests/integration/test_resilience_e2e.py \
  tests/service/test_concurrency.py tests/service/test_names_per_account.py \
  tests/service/test_read_consistency.py
test: deps
	$(PYTEST) -n 2 --dist loadfile tests/unit tests/service --ignore=$(FUZZ)
	@fuzzlog=$$(mktemp); \
	echo "$(PYTEST) $(FUZZ) -k '$(FUZZ_HALF) or test_zz' (beside the next, output after)"; \
	$(PYTEST) $(FUZZ) -k '$(FUZZ_HALF) or test_zz' >$$fuzzlog 2>&1 & other=$$!; \
	echo "$(PYTEST) $(FUZZ) -k 'not ($(FUZZ_HALF))'"; \
	$(PYTEST) $(FUZZ) -k 'not ($(FUZZ_HALF))'; one=$$?; \
	wait $$other; two=$$?; cat $$fuzzlog; rm -f $$fuzzlog; \
	test $$one -eq 0 && test $$two -eq 0
	$(PYTEST) $(KERNEL_WORKERS) tests/integration
	FACADE_TEST_STORE=postgresql $(PYTEST) $(KERNEL_WORKERS) $(PG_TESTS)

# issue 16: the isolation property test and the SIGKILL convergence test at scale (10,000
# pairs over topologies of 3-4 tenants, 100 kills, from a fresh seed), as root, beyond CI's
# budget: each test stops at its count or its time (35 and 20 minutes), and `timeout` stops the
# run at an hour whatever happens (SIGINT, so the fixtures still clean up). `make test` runs the
# same two tests at CI's fixed size. Figures and a shorter trial run: docs/guarantees.md, "Soak".
soak: deps
	FACADE_SOAK=1 timeout -s INT -k 120 3600 $(PYTEST) -s -o faulthandler_timeout=0 \
	  tests/integration/test_isolation_property.py tests/integration/test_crash_e2e.py

check: deps
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy --strict src
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests/unit tests/service
	$(PY) -m pytest -q tests/integration/test_driver_contract.py -m "not root"

bench: deps
	$(PY) bench/appliance_lifecycle.py
	$(PY) bench/throughput.py
	$(PY) bench/failover.py
	$(PY) bench/workload_memory.py
	$(PY) bench/reads.py
	$(PY) bench/edge.py

# issue 11's targets: one more appliance at 10, 100 and 500 (about 15 minutes on 2 cores)
bench-scale: deps
	$(PY) bench/scale.py --counts 10,100,500

cleanup: deps
	$(VENV)/bin/facade cleanup
