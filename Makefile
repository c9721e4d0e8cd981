# Two commands for readers: `make book` and `make test`. Both install what they need first
# (Debian packages through tools/system_deps.sh, then .venv from requirements.txt).
# `make lab` opens the lessons in JupyterLab. Authors also have `make regen` (re-execute
# lessons in place), `make check-lesson`, `make colab-cells` and `make bench`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LESSONS := $(shell find lessons -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
# nbval: strict output comparison (never --nbval-lax); --dist loadfile keeps each
# notebook on one worker. The worker count is set per target below.
NBVAL  := $(BIN)/pytest --nbval --dist loadfile -p no:cacheprovider
# The stored outputs must not depend on the CPU or the thread count. Torch's portable
# kernels (no SIMD) and MKL limited to SSE4.2 round differently from this machine's
# AVX-512 code, and 2 threads split sums differently from 1; passive OpenMP waiting keeps
# idle threads from spinning when other processes share the cores.
PORTABLE := TNN_NUM_THREADS=2 ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 OMP_WAIT_POLICY=PASSIVE
AVX2     := ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2
# MathJax for offline math: the npm package pinned in package.json/package-lock.json.
NODE_STAMP := node_modules/.package-lock.json
# The browser suite drives Debian's Chromium (never a browser download).
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
# make check-lesson LESSON=lessons/NN_chapter/NN_slug.ipynb (several paths may be given)
LESSON ?=

.PHONY: book test lint unit nbval nbval-portable nbval-avx2 book-check browser browser-suite lab regen \
        check-lesson colab-cells bench clean help system-deps-book system-deps-test

help:
	@echo "make book    build the HTML book into _build/html (installs what it needs first)"
	@echo "make test    run every check: lint, unit tests, strict nbval (twice), book build, browser suite"
	@echo "make lab     open the lessons in JupyterLab (the .venv kernel, on 127.0.0.1)"
	@echo "make regen   re-execute every lesson in place (authors; LESSONS=path for one)"
	@echo "make check-lesson LESSON=path   lint and strict nbval of one lesson, native and portable"
	@echo "make colab-cells   refresh every lesson's Colab install cell from _config.yml"
	@echo "make bench   time each lesson, each part of make test, the training loop and the hooks"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, found " + sys.version.split()[0])'
	@if [ -d $(VENV) ]; then echo "Refreshing $(VENV) (requirements changed)"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

system-deps-book:
	@bash tools/system_deps.sh book

system-deps-test:
	@bash tools/system_deps.sh test

$(NODE_STAMP): package.json package-lock.json | system-deps-book
	npm ci --no-audit --no-fund

book: system-deps-book $(STAMP) $(NODE_STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

test: system-deps-test lint unit nbval nbval-portable book-check browser
	@echo "make test: every check passed"

# Under make test, system-deps-test has installed PostgreSQL: its search-worker test must run.
test: export TNN_REQUIRE_POSTGRES = 1

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check utils tests tools book/_ext lessons

unit: $(STAMP)
	$(BIN)/pytest -q -n 2

nbval: $(STAMP)
	$(NBVAL) -n 2 lessons

# One more pass under the portable kernels at 2 threads: it checks the CPU and the thread
# count at once. Two workers of 2 threads oversubscribe a 2-core machine, but with passive
# OpenMP waiting the pass still takes about half the time of one worker.
nbval-portable: $(STAMP)
	$(PORTABLE) $(NBVAL) -n 2 lessons

# Authors: the kernels of common CI runners (AVX2 only); not part of make test.
nbval-avx2: $(STAMP)
	$(AVX2) $(NBVAL) -n 2 lessons

book-check: $(STAMP) $(NODE_STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build . --all -W -n --keep-going

# Serves the fresh build on 127.0.0.1 and checks every page of _toc.yml in Chromium, and
# opens a lesson in JupyterLab. Failing pages are saved in tests/screenshots/;
# `$(BIN)/pytest -m browser tests/browser --screenshots` after a build saves every page.
browser: system-deps-test book-check
	$(MAKE) --no-print-directory browser-suite

# The suite alone, on the current build (make bench times it this way).
browser-suite: $(STAMP)
	TNN_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -m browser -n 2 tests/browser

# JupyterLab from .venv on the lessons, listening on 127.0.0.1 only. JUPYTER_PATH puts the
# .venv's kernel first (a user-wide "python3" kernel would otherwise win); nothing is fetched
# from the internet (no news, no update check, no extension catalogue), and
# tools/jupyter/labconfig turns off the prompt that asks to fetch Jupyter news. LAB_DIR is the
# folder it serves; LAB_ARGS adds options. As root (a container), JupyterLab needs --allow-root.
LAB_DIR ?= lessons
LAB_ARGS ?=
lab: $(STAMP)
	JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter \
	JUPYTER_CONFIG_PATH=$(CURDIR)/tools/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH} \
	  $(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 \
	  --ServerApp.root_dir=$(LAB_DIR) --LabApp.news_url=None --LabApp.extension_manager=readonly \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

regen: $(STAMP)
	$(BIN)/python tools/regen.py $(LESSONS)

# One lesson as CI checks it: lint, strict nbval natively at 1 thread, then portable at 2.
check-lesson: $(STAMP)
	@test -n "$(LESSON)" || { echo "usage: make check-lesson LESSON=lessons/NN_chapter/NN_slug.ipynb"; exit 2; }
	$(BIN)/ruff check $(LESSON)
	$(BIN)/ruff format --check $(LESSON)
	$(NBVAL) -n 0 $(LESSON)
	$(PORTABLE) $(NBVAL) -n 0 $(LESSON)

colab-cells: $(STAMP)
	$(BIN)/python tools/colab_cell.py

bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean:
	rm -rf _build tests/screenshots
