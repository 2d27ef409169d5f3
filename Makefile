# Hubless: `make run` starts the demo, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint check setup system-deps messages vendor clean screenshots

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests need: chromium for the browser tests, gettext for messages.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v msgfmt >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium gettext >/dev/null; \
	  else \
	    echo "Install the Debian packages chromium and gettext (sudo apt-get install chromium gettext)"; exit 1; \
	  fi; \
	fi

run: $(STAMP)
	$(PY) manage.py migrate --noinput -v0
	SITE_URL=http://$(HOST):$(PORT) $(PY) manage.py seed_demo
	@echo "Hubless runs on http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP) system-deps
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	DATABASE_URL= REDIS_URL= $(PY) manage.py makemigrations --check --dry-run

check: lint test

messages: $(STAMP)
	$(PY) manage.py makemessages -l ja -l en --ignore=.venv --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

vendor:
	./scripts/vendor_static.sh

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

# Needs Debian's chromium and a Japanese font (fonts-noto-cjk) for readable PNGs.
screenshots: $(STAMP)
	@command -v chromium >/dev/null || { echo "apt-get install chromium fonts-noto-cjk"; exit 1; }
	$(PY) scripts/screenshots.py
