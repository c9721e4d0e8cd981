# Two commands for readers: `make book` and `make test`. Both create .venv first.
# Authors also have `make regen` (re-execute every lesson in place) and `make bench`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LESSONS := $(shell find lessons -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
# nbval: strict output comparison (never --nbval-lax); --dist loadfile keeps each
# notebook on one worker. The worker count is set per target below.
NBVAL  := $(BIN)/pytest --nbval --dist loadfile -p no:cacheprovider lessons
# MathJax for offline math: the npm package pinned in package.json/package-lock.json.
NODE_STAMP := node_modules/.package-lock.json
# The browser suite drives Debian's Chromium (never a browser download).
CHROMIUM ?= /usr/bin/chromium

.PHONY: book test lint unit nbval nbval-threads book-check browser check-chromium regen bench clean help

help:
	@echo "make book   build the HTML book into _build/html (creates .venv if needed)"
	@echo "make test   run every check: lint, unit tests, strict nbval, book build with -W, browser suite"
	@echo "make browser  build the book, then check every page in headless Chromium"
	@echo "make regen  re-execute every lesson in place (authors)"
	@echo "make bench  time each lesson and the training loop (authors)"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, found " + sys.version.split()[0])'
	@if [ -d $(VENV) ]; then echo "Refreshing $(VENV) (requirements changed)"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

book: $(STAMP) $(NODE_STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

test: check-chromium lint unit nbval nbval-threads book-check browser
	@echo "make test: every check passed"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check utils tests tools book/_ext lessons

unit: $(STAMP)
	$(BIN)/pytest -q

nbval: $(STAMP)
	$(NBVAL) -n 2

# The stored outputs must not depend on the thread count: run once more at 2 threads
# (one worker, so 2 threads do not oversubscribe a 2-core machine; passive OpenMP
# waiting stops idle threads spinning when other processes share the cores).
nbval-threads: $(STAMP)
	TNN_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $(NBVAL) -n 1

book-check: $(STAMP) $(NODE_STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build . --all -W -n --keep-going

# Serves the fresh build on 127.0.0.1 and checks every page of _toc.yml in Chromium.
# Failing pages are saved in tests/screenshots/; `$(BIN)/pytest -m browser tests/browser --screenshots`
# after a build also saves every page there, in light and dark mode.
browser: check-chromium book-check
	TNN_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -m browser tests/browser

# Fail early and say how to install Chromium, rather than skipping the browser tests.
check-chromium:
	@test -x $(CHROMIUM) || { echo; \
	  echo "Chromium is not installed at $(CHROMIUM); the browser tests (make browser) need it."; \
	  echo "Install Debian's package:  sudo apt-get update && sudo apt-get install -y chromium"; \
	  echo "(or run make with CHROMIUM=/path/to/chromium)"; echo; exit 1; }

regen: $(STAMP)
	$(BIN)/python tools/regen.py $(LESSONS)

bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean:
	rm -rf _build tests/screenshots
