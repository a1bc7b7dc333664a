# Two entry points for a fresh machine: `make demo` and `make test`.
# The torch build is chosen here, before the package: the CPU wheel by default, so pip
# never pulls gigabytes of CUDA wheels on a machine without a GPU. GPU users pick theirs:
#   make demo TORCH="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu126
# (on machines whose default index does not serve a CPU wheel, use
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu).
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
# the stamp names the torch build, so asking for another build reinstalls
STAMP := $(VENV)/.installed-$(subst /,_,$(subst :,_,$(subst =,_,$(TORCH)$(TORCH_INDEX))))

.PHONY: install demo test lint clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e ".[dev,onnx]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/quakeslide demo --out quakeslide-demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) quakeslide-demo .pytest_cache
