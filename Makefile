# Two entry points for a fresh machine: `make demo` and `make test`. Each creates .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints.txt
# inplace-abn is compiled against the installed torch (a CUDA build): it needs nvcc and a GPU
# architecture list even on machines without a GPU.
CUDA_HOME ?= /usr/local/cuda
TORCH_CUDA_ARCH_LIST ?= 8.0;9.0

.PHONY: venv iabn test demo demo-assets bench clean

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
	$(VENV)/bin/efficientps segment assets/demo_drive.mp4 -o runs/demo/demo_drive_panoptic.mp4 --save-json --overwrite
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/efficientps view assets/demo_drive.mp4 --frame 75 \
		--screenshot runs/demo/viewer.png
	@echo "demo outputs in runs/demo/: demo_drive_panoptic.mp4 (H.264 + audio), demo_drive_panoptic.jsonl, viewer.png"

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
