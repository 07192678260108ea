# make demo / make test / make bench: each creates .venv when missing and installs what it needs.
# TORCH picks the torch requirement (the CPU build of 2.13.0 by default), e.g. `make demo TORCH=torch`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ganforge-installed
# Use a data directory beside the project when there is one (MNIST files in <dir>/mnist/),
# else $GANFORGE_DATA or the user cache, where missing files are downloaded.
SHARED_DATA := $(wildcard ../shared/data)
ifneq ($(SHARED_DATA),)
export GANFORGE_DATA ?= $(abspath $(SHARED_DATA))
endif

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ganforge train configs/demo_mnist.toml

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/ganforge bench configs/mlp_mnist.toml

clean:
	rm -rf $(VENV) runs
