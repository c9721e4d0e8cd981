# Two commands for readers: `make book` and `make test`. Both create .venv first.
# Authors also have `make regen` (re-execute every lesson in place) and `make bench`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LESSONS := $(shell find lessons -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
# nbval: strict output comparison, 2 workers, one notebook per worker at a time.
NBVAL  := $(BIN)/pytest --nbval \
          -n 2 --dist loadfile -p no:cacheprovider lessons

.PHONY: book test lint unit nbval nbval-threads book-check regen bench clean help

help:
	@echo "make book   build the HTML book into _build/html (creates .venv if needed)"
	@echo "make test   run every check: lint, unit tests, strict nbval, book build with -W"
	@echo "make regen  re-execute every lesson in place (authors)"
	@echo "make bench  time each lesson and the training loop (authors)"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, found " + sys.version.split()[0])'
	@if [ -d $(VENV) ]; then echo "Refreshing $(VENV) (requirements changed)"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

test: lint unit nbval nbval-threads book-check
	@echo "make test: every check passed"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check utils tests tools

unit: $(STAMP)
	$(BIN)/pytest -q

nbval: $(STAMP)
	$(NBVAL)

# The stored outputs must not depend on the thread count: run once more at 2 threads.
nbval-threads: $(STAMP)
	TNN_NUM_THREADS=2 $(NBVAL)

book-check: $(STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build . --all -W -n --keep-going

regen: $(STAMP)
	$(BIN)/python tools/regen.py $(LESSONS)

bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean:
	rm -rf _build
