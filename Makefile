# sercross: every target creates or refreshes the virtual environment it needs (.venv).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A CPU build of torch: the unpinned PyPI wheel pulls CUDA (several GB). Override for another build, e.g.
#   make install TORCH_SPEC="torch==2.13.*" PIP_TORCH_FLAGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.*
PIP_TORCH_FLAGS ?=
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-quick lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(PIP_TORCH_FLAGS)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv with sercross and its dev tools

demo: $(STAMP)  ## the main job on synthetic demo data (about 20 s on 2 cores, plus the install)
	$(BIN)/sercross demo --out demo-output

test: $(STAMP)  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-quick: $(STAMP)  ## the inner loop: every test but those marked slow (under a minute on 2 cores)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)  ## speed measurements, printed as ratios measured in one run
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
