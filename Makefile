# minillm: the two commands a newcomer needs are `make lab` and `make test`.
# Everything else (book, exercises, benchmarks) is below. `make help` lists the targets.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# On a machine without an NVIDIA GPU we install a CPU build of torch. Override TORCH to choose,
# e.g. `make TORCH="torch --index-url https://download.pytorch.org/whl/cpu"`.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAS_GPU),yes)
TORCH  ?= torch>=2.2
else
TORCH  ?= torch==2.13.0
endif
PYTEST_ARGS ?=
# Extra JupyterLab options, e.g. `make lab LAB_ARGS="--no-browser --port 8890"`. As root (containers) Jupyter needs --allow-root.
LAB_ARGS ?= $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
STAMP  := $(VENV)/.minillm-installed

.PHONY: help setup lab models test lint book exercises execute bench bench-notebooks clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[course,dev,book]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (minillm)" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv (if missing) and install the course, tests and book tools

lab: $(STAMP)  ## set up, then open the course in JupyterLab at chapter 0
	$(VENV)/bin/jupyter lab --notebook-dir=. $(LAB_ARGS) $$($(PY) -c "from minillm.course.book import load_book; print(load_book().ready()[0].chapter)")

# The course's cached models (chapters 4-12) are built once, before the tests, with every core
# (the tests themselves may run one thread per worker); later runs find them in the cache.
# Chapter 12's arithmetic model is one of them (the zoo entry "arithmetic"): opening chapter 12 (or
# testing it) without it would train it inside the notebook.
models: $(STAMP)  ## build the course's cached models that are missing (minillm models --build)
	env -u OMP_NUM_THREADS -u MKL_NUM_THREADS $(PY) -m minillm models --build

# MINILLM_OFFLINE=1: tests never download (online, chapter 3 would otherwise fetch GPT-2, over 500 MB).
test: $(STAMP) models  ## set up, build the course models once, then run every test: package, manifest, exercises, notebooks, book
	MINILLM_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff over the package, tests, benchmarks and notebooks
	$(VENV)/bin/ruff check .

exercises: $(STAMP)  ## regenerate exercises/ from solutions/ and the README's course map from book.yml
	$(PY) -m minillm exercises
	$(PY) -m minillm readme

# NB=chapters/01-tokenization.ipynb runs one notebook; without NB, every ready chapter and solutions notebook.
execute: $(STAMP)  ## re-execute notebooks in place and stamp them with their minillm modules' hash
	$(PY) -m minillm execute $(NB)

book: $(STAMP)  ## build the HTML book into _build/html (notebooks executed, with a cache)
	$(PY) -m minillm.course.site --execute cache
	@echo "open _build/html/index.html"

bench: $(STAMP) bench-notebooks  ## run every benchmark in benchmarks/
	@for f in benchmarks/*.py; do [ "$$f" = benchmarks/notebooks.py ] || $(PY) $$f || exit 1; done

bench-notebooks: $(STAMP)  ## report each notebook's wall time and peak memory against its budget
	$(PY) benchmarks/notebooks.py

clean:  ## remove build outputs (keeps .venv)
	rm -rf _build .pytest_cache
