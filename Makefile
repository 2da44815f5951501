# The README's two commands for a fresh machine: `make demo` and `make test`. Each creates .venv on first
# use; later runs install nothing unless pyproject.toml or constraints.txt changed (`make clean` starts over).
# Choices (docs/installation.md), e.g. `make demo PYTHON=python3.12 TORCH=cpu`:
#   PYTHON   the interpreter for .venv, Python 3.10 to 3.13 (default python3)
#   TORCH    cuda: PyPI's torch, a CUDA build that also runs on the CPU (default);
#            cpu: PyTorch's CPU-only wheels from TORCH_CPU_INDEX (much smaller, no CUDA)
#   EXTRAS   the project's extras (default cpu,dev; gpu,dev for ONNX Runtime with CUDA)
#   IABN     the optional inplace-abn (train --norm iabn): auto builds it when a CUDA toolkit matching
#            torch's CUDA is found, 1 always (a failure stops), 0 never; `make iabn` builds it later
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints.txt
EXTRAS ?= cpu,dev
TORCH ?= cuda
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
IABN ?= auto
# inplace-abn compiles against the installed torch. With a CUDA build of torch that needs nvcc and a GPU
# architecture list, even on a machine without a GPU. CUDA_HOME from the environment wins; otherwise the
# usual install location, then the nvcc on PATH.
ifeq ($(origin CUDA_HOME),undefined)
CUDA_HOME := $(or $(wildcard /usr/local/cuda),$(patsubst %/bin/,%,$(dir $(realpath $(shell command -v nvcc 2>/dev/null)))))
endif
TORCH_CUDA_ARCH_LIST ?= 8.0;9.0
NVCC := $(CUDA_HOME)/bin/nvcc

.PHONY: venv iabn test demo demo-assets bench clean

venv: $(VENV)/.installed $(VENV)/.iabn

# Python 3.10 to 3.13 are tested; the gpu extra needs 3.11+ (ONNX Runtime's CUDA 13 builds have no 3.10 wheels).
define CHECK_PYTHON
import sys
v = sys.version_info[:2]
if v < (3, 10):
    sys.exit(f"efficientps needs Python 3.10 or newer; {sys.executable} is {v[0]}.{v[1]}: choose another with PYTHON=python3.12")
if v > (3, 13):
    print(f"warning: Python {v[0]}.{v[1]} is untested (tested: 3.10 to 3.13)", file=sys.stderr)
if v < (3, 11) and "gpu" in "$(EXTRAS)".split(","):
    sys.exit("the gpu extra needs Python 3.11 or newer: ONNX Runtime's builds for torch's CUDA 13 have no Python 3.10 wheels")
endef
export CHECK_PYTHON

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c "$$CHECK_PYTHON"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -c $(CONSTRAINTS) --upgrade pip setuptools wheel
ifeq ($(TORCH),cpu)
	$(PIP) install --no-deps -c $(CONSTRAINTS) --index-url $(TORCH_CPU_INDEX) torch torchvision
else ifneq ($(TORCH),cuda)
	$(error TORCH must be cuda or cpu, not '$(TORCH)')
endif
	$(PIP) install -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	@touch $@

# Decided once per venv (the stamp), so a second run repeats nothing.
$(VENV)/.iabn: $(VENV)/.installed
	@nvcc=$$([ -x "$(NVCC)" ] && "$(NVCC)" --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p'); \
	torch=$$($(PY) -c "import torch; print((torch.version.cuda or '').split('.')[0])"); \
	if [ "$(IABN)" = 1 ] || { [ "$(IABN)" = auto ] && [ -n "$$torch" ] && [ "$$nvcc" = "$$torch" ]; }; then \
		$(MAKE) --no-print-directory iabn || { echo "inplace-abn is optional: IABN=0 goes without it" >&2; exit 1; }; \
	elif [ "$(IABN)" = auto ]; then \
		if [ -z "$$torch" ]; then why="torch is a CPU build"; \
		elif [ -z "$$nvcc" ]; then why="no CUDA toolkit (no nvcc under CUDA_HOME=$(CUDA_HOME))"; \
		else why="the CUDA toolkit is $$nvcc.x, torch's CUDA is $$torch.x"; fi; \
		echo "inplace-abn (optional, for train --norm iabn) not built: $$why; make iabn builds it"; \
	fi
	@touch $@

iabn: $(VENV)/.installed
	@torch=$$($(PY) -c "import torch; print(torch.version.cuda or '')"); \
	if [ -n "$$torch" ] && ! [ -x "$(NVCC)" ]; then \
		echo "inplace-abn builds against torch's CUDA $$torch and needs that CUDA toolkit's nvcc: none at" \
			"CUDA_HOME=$(CUDA_HOME) (set CUDA_HOME, or use TORCH=cpu)" >&2; exit 1; fi
	$(PIP) install -c $(CONSTRAINTS) setuptools-scm
	SETUPTOOLS_SCM_PRETEND_VERSION=1.1.0 CUDA_HOME="$(CUDA_HOME)" TORCH_CUDA_ARCH_LIST="$(TORCH_CUDA_ARCH_LIST)" \
	MAX_JOBS=2 $(PIP) install --no-build-isolation -c $(CONSTRAINTS) "inplace-abn==1.1.0"

test: venv
	$(PY) -m pytest -q -n 2

demo: venv
	$(VENV)/bin/efficientps doctor
	$(VENV)/bin/efficientps segment assets/demo_drive.mp4 -o runs/demo/demo_drive_panoptic.mp4 --save-json --overwrite
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/efficientps view assets/demo_drive.mp4 --frame 75 \
		--screenshot runs/demo/viewer.png
	@echo "demo outputs in runs/demo/: demo_drive_panoptic.mp4 (H.264 + audio), demo_drive_panoptic.jsonl, viewer.png"
	@echo "the efficientps command is $(VENV)/bin/efficientps: run '. $(VENV)/bin/activate' to put it on your PATH"

# Rebuilds the bundled demo assets from scratch (about 40 minutes on 2 CPU cores).
DEMO_DATA ?= data/synth-demo
demo-assets: venv
	$(VENV)/bin/efficientps data synth $(DEMO_DATA) --train 64 --val 8 --size 256 512 --seed 5
	$(VENV)/bin/efficientps data prepare $(DEMO_DATA)
	printf 'optimizer: adam\nwarmup_iters: 50\nlr_steps: [85]\nscale_range: [0.75, 1.25]\n' > runs-demo-recipe.yaml
	$(VENV)/bin/efficientps train --data $(DEMO_DATA) --preset tiny --epochs 100 --batch-size 4 --crop 256 512 \
		--lr 2e-3 --eval-interval 20 --device cpu --workers 1 --config runs-demo-recipe.yaml --name demo-assets
	$(PY) -c "from model.weights import load_model, save_model; \
		save_model(load_model('runs/train/demo-assets/weights/best.safetensors'), \
		'assets/efficientps_tiny_synthetic.safetensors', half=True, extra={'trained_on': 'synthetic scenes (make demo-assets)'})"
	$(VENV)/bin/efficientps data synth-video assets/demo_drive.mp4 --seconds 10 --fps 15 --size 256 512 --seed 0 --overwrite
	$(PY) -c "import av, PIL.Image as I; c = av.open('assets/demo_drive.mp4'); \
		f = [x for i, x in zip(range(76), c.decode(video=0))][-1]; I.fromarray(f.to_ndarray(format='rgb24')).save('runs/frame75.png')"
	$(VENV)/bin/efficientps segment runs/frame75.png -o runs/demo-assets --side-by-side --overwrite -q
	cp runs/demo-assets/frame75.png assets/demo_overlay.png
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/efficientps view assets/demo_drive.mp4 --frame 75 --size 1100 560 \
		--compare "side by side" --screenshot assets/viewer.png
	rm -f runs-demo-recipe.yaml runs/frame75.png

bench: venv
	$(PY) benchmarks/model_latency.py

clean:
	rm -rf $(VENV) build *.egg-info
