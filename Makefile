# The two commands the README opens with: `make demo` and `make test`.
# Each creates the virtual environment from pyproject.toml first when it is missing or stale.

VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

install: $(STAMP)

# npm first: installing the package copies the front-end files it serves out of node_modules
# (setup.py).
$(STAMP): pyproject.toml setup.py package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[issuer,test]'
	touch $(STAMP)

# Browser tests drive Debian's Chromium (no browser download).
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Clock-trouble tests run a validator under libfaketime (a real process with a wrong clock).
/usr/bin/faketime:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null

# The tests check the units in deploy/ with `systemd-analyze verify`.
/usr/bin/systemd-analyze:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null

demo: $(STAMP)
	$(VENV)/bin/vexe demo

test: $(STAMP) /usr/bin/chromium /usr/bin/faketime /usr/bin/systemd-analyze
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/bench_validator.py
	$(VENV)/bin/python bench/bench_journal.py
	$(VENV)/bin/python bench/bench_sync.py

clean:
	rm -rf $(VENV) var demo-data results .pytest_cache
