# The two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install bench bench-ingest bench-fleet bench-fleet-update bench-pad bench-gate bench-card bench-cameras eval messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/facegate demo

# Three workers more than there are cores (pytest-xdist): much of the suite waits on real processes (measured on 2
# cores: 3 workers 10 min 44 s, 4 workers 9 min 32 s; with issue 29's tests 4 workers 11 min 09 s to 12 min 00 s, 5
# workers 10 min 34 s; docs/testing.md). Each worker takes a whole module's tests on one database at a time, the
# longest first (tests/conftest.py).
WORKERS ?= $(shell echo $$(( $$(nproc) + 3 )))
# axe-core (npm) checks every page's accessibility in the browser tests.
AXE := tests/node_modules/.installed
$(AXE): tests/package.json tests/package-lock.json
	cd tests && npm ci --no-audit --no-fund --silent
	touch $(AXE)

test: $(STAMP) $(AXE)
	$(BIN)/pytest -q -n $(WORKERS) --dist loadscope --no-loadscope-reorder

# The inner loop: the tests that need no broker, browser, data in ../shared or PostgreSQL (docs/testing.md).
test-fast: $(STAMP)
	$(BIN)/pytest -q -n auto -m "not broker and not browser and not data and not postgres and not pcsc"

bench: $(STAMP)
	$(BIN)/python benchmarks/edge_loop.py

bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

# 500 devices behind 5 bridged site brokers; SQLite, then 1-3 replicas on PostgreSQL (needs mosquitto, postgresql-15).
bench-fleet: $(STAMP)
	$(BIN)/python benchmarks/fleet.py

# A configuration change to 100 devices from the centre, against copying a file and restarting each (needs mosquitto).
bench-fleet-update: $(STAMP)
	$(BIN)/python benchmarks/fleet_update.py

bench-gate: $(STAMP)
	$(BIN)/python benchmarks/gate_latency.py

bench-card: $(STAMP)
	$(BIN)/python benchmarks/card_enrol.py

bench-cameras: $(STAMP)
	$(BIN)/python benchmarks/many_cameras.py
	$(BIN)/python benchmarks/time_to_decision.py
	$(BIN)/python benchmarks/substream.py

bench-pad: $(STAMP)
	$(BIN)/python benchmarks/pad_eval.py
	$(BIN)/python benchmarks/temporal_cues.py

eval: $(STAMP)
	$(BIN)/python benchmarks/eval_pairs.py
	$(BIN)/python benchmarks/cross_quality.py

# Collect every marked message into the catalogues (gateway/i18n/locales/*/LC_MESSAGES/messages.po): new ones
# arrive empty (shown in English until translated), removed ones leave. Then translate the vi file.
# The gateway's errors (gateway/errors.py) and refusal reasons (models/reasons.py) take their message as a
# template: each class is a keyword too.
ERROR_KEYWORDS := GatewayError NotAuthenticated NotFound Conflict Invalid Unavailable TooManyAttempts DeviceOffline RowsInvalid Reason
messages: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F babel.cfg --no-location --sort-output --project FaceGate --version 0.1.0 \
	  $(addprefix -k ,$(ERROR_KEYWORDS)) -o gateway/i18n/messages.pot .
	for lang in vi en; do $(VENV)/bin/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i gateway/i18n/messages.pot \
	  -d gateway/i18n/locales -l $$lang 2>/dev/null || $(VENV)/bin/pybabel -q init -i gateway/i18n/messages.pot \
	  -d gateway/i18n/locales -l $$lang; done

clean:
	rm -rf var .pytest_cache
