# The two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench bench-ingest bench-fleet bench-pad eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/facegate demo

# One worker per core (pytest-xdist), each taking whole test modules: most of the suite waits on real processes.
test: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadscope

bench: $(STAMP)
	$(BIN)/python benchmarks/edge_loop.py

bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

# 500 devices behind 5 bridged site brokers; SQLite, then 1-3 replicas on PostgreSQL (needs mosquitto, postgresql-15).
bench-fleet: $(STAMP)
	$(BIN)/python benchmarks/fleet.py

bench-pad: $(STAMP)
	$(BIN)/python benchmarks/pad_eval.py
	$(BIN)/python benchmarks/temporal_cues.py

eval: $(STAMP)
	$(BIN)/python benchmarks/eval_pairs.py

clean:
	rm -rf var .pytest_cache
