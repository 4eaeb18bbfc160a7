# restrictwatch: `make demo` and `make test` do all set-up on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test unit integration lint venv dashboards kafka-up kafka-down prometheus bench-quality bench-real bench-nab bench-perf bench-core bench-replay bench-scaleout bench-soak bench-worker bench-latency bench-reliability clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: venv
	$(BIN)/restrictwatch demo

test: venv prometheus
	$(BIN)/python -m pytest -q -p no:cacheprovider

unit: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider --ignore=tests/integration

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# mypy cannot follow the editable install's import hook: it checks the folders through a
	@# tree of links named as installed (restrictwatch.*), and reports paths in the repo.
	@mkdir -p $(VENV)/typecheck/restrictwatch
	@for p in detectors streams schemas; do ln -sfn ../../../$$p $(VENV)/typecheck/restrictwatch/$$p; done
	@bash -o pipefail -c 'MYPYPATH=$(VENV)/typecheck $(BIN)/mypy --explicit-package-bases \
		-p restrictwatch.detectors -p restrictwatch.streams | sed "s#^$(VENV)/typecheck/restrictwatch/##"'
	$(BIN)/mypy deploy/grafana/generate.py

# deploy/grafana/dashboards/*.json from their generator (commit the result).
dashboards: venv
	$(BIN)/python deploy/grafana/generate.py

# Silent when Prometheus is on PATH; otherwise it says so before it installs Debian's package.
prometheus:
	@bash deploy/prometheus/install.sh

kafka-up:
	bash deploy/kafka/kafka.sh up

kafka-down:
	bash deploy/kafka/kafka.sh down

# Every performance figure of BENCHMARKS.md: the core, the worker (with a py-spy profile),
# scale-out on an even spread, and watermark-to-event latency (about 45 minutes in all).
bench-perf: bench-core bench-replay bench-worker bench-scaleout bench-latency

bench-core: venv
	$(BIN)/python -m bench.perf --write

# After bench-core: its section sits inside bench-core's, which rewrites it whole.
bench-replay: venv
	$(BIN)/python -m bench.replay_workers --write

bench-scaleout: venv
	$(BIN)/python -m bench.worker_perf --synthetic 20000x15 --write

# Detection quality: simulated scenarios, then real OONI/Tor data and NAB (a few minutes in all).
bench-quality: venv
	$(BIN)/python -m bench.quality --write
	$(BIN)/python -m bench.real --write
	$(BIN)/python -m bench.hurricane --write
	$(BIN)/python -m bench.nab --write

bench-real: venv
	$(BIN)/python -m bench.real --write
	$(BIN)/python -m bench.hurricane --write

bench-nab: venv
	$(BIN)/python -m bench.nab --write

bench-soak: venv
	$(BIN)/python -m bench.soak --write

bench-worker: venv
	$(BIN)/python -m bench.worker_perf --profile --write

bench-latency: venv
	$(BIN)/python -m bench.latency --rates 333,1000,3000 --live-days 3 --write
	$(BIN)/python -m bench.latency --rates 1000,10000,30000 --live-days 3 --batch 100 --write

bench-reliability: venv
	$(BIN)/python -m bench.reliability --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache state
