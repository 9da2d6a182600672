# TrustLadder: `make run` (set up and run the headline and community studies), `make test` (set up and test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test venv bench lint regime clean browser docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m experiments.headline && $(PY) -m experiments.community

# --dist load, not loadgroup: pytest-xdist 3.8's group scheduler can wait forever once a crashed worker is
# replaced (pytest-dev/pytest-xdist#1323, #1327); the plain scheduler reports the crash and goes on.
test: $(STAMP)
	$(VENV)/bin/trustladder --version
	bash scripts/install-browser.sh
	$(PY) -m pytest -q -n 2 --dist load

bench: $(STAMP)
	$(VENV)/bin/trustladder bench

regime: $(STAMP)
	$(VENV)/bin/trustladder regime --all

# The documentation site, tutorials executed (cached until a notebook changes): build/docs/html/index.html
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -b html -W --keep-going docs build/docs/html
	@echo "open build/docs/html/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check sim tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
