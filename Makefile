# The three commands of the README. Each creates .venv and installs what it needs on its own.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: test demo dev status reliability bench

$(INSTALLED): setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

test: $(INSTALLED)
	$(PY) -m pytest

demo: $(INSTALLED)
	$(PY) -m aircall_assets demo

dev: $(INSTALLED)
	$(PY) -m aircall_assets dev

status: $(INSTALLED)
	$(PY) -m aircall_assets status
