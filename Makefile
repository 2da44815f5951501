# Two entry points for a fresh machine: `make demo` and `make test`. Each creates .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints.txt
# inplace-abn is compiled against the installed torch (a CUDA build): it needs nvcc and a GPU
# architecture list even on machines without a GPU.
CUDA_HOME ?= /usr/local/cuda
TORCH_CUDA_ARCH_LIST ?= 8.0;9.0

.PHONY: venv iabn test demo bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[cpu,dev]"
	$(MAKE) iabn
	touch $@

iabn:
	SETUPTOOLS_SCM_PRETEND_VERSION=1.1.0 CUDA_HOME="$(CUDA_HOME)" TORCH_CUDA_ARCH_LIST="$(TORCH_CUDA_ARCH_LIST)" \
	MAX_JOBS=2 $(PIP) install -q --no-build-isolation -c $(CONSTRAINTS) "inplace-abn==1.1.0"

test: venv
	$(PY) -m pytest -q -n 2

demo: venv
	$(VENV)/bin/efficientps doctor
	$(VENV)/bin/efficientps model-info b5-cityscapes
	$(PY) benchmarks/model_latency.py --presets tiny --sizes 256x512 --repeats 2

bench: venv
	$(PY) benchmarks/model_latency.py

clean:
	rm -rf $(VENV) build *.egg-info
