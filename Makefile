# niclab: `make run` sets everything up and trains the smoke experiment; `make test` tests.
# Needs: a Rust toolchain (cargo, from rustup), and on Debian/Ubuntu apt-get, dpkg-deb and
# sha256sum for the datasets (`make deps` checks them; nothing else is installed system-wide).

SHELL      := /bin/bash
CARGO      ?= cargo
JOBS       ?= 2
NICLAB     := target/release/niclab
EXPERIMENT ?= experiments/smoke.toml

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

.PHONY: help deps build data run test lint clean-data

help:
	@echo "make run    fetch the photos, build, train $(EXPERIMENT) (default CPU backend)"
	@echo "make test   fetch the photos, build, run every test"
	@echo "make data   fetch and unpack the Debian packages, cut datasets/test-1000 and datasets/train"
	@echo "make build  build target/release/niclab"
	@echo "make lint   cargo fmt --check and clippy -D warnings"

deps:
	@command -v $(CARGO) >/dev/null || { echo "error: cargo not found: install Rust from https://rustup.rs (1.95 or newer)"; exit 1; }
	@for t in apt-get dpkg-deb sha256sum; do \
	  command -v $$t >/dev/null || { echo "error: $$t not found: the datasets come from Debian packages, so a Debian or Ubuntu system is needed"; exit 1; }; \
	done

build: deps
	$(CARGO) build --release -j $(JOBS)

# apt-get download needs no root, but fresh package lists do: when the pinned versions are
# not found, refresh them (as root, or tell the user how).
$(RAW_STAMP): datasets/debs.sha256 | deps
	@mkdir -p datasets/debs datasets/raw
	@cd datasets/debs && if ! sha256sum --quiet -c ../debs.sha256 2>/dev/null; then \
	  apt-get download $(DEBS) 2>/dev/null || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get download $(DEBS); \
	    else echo "error: apt-get cannot find the pinned packages; run 'sudo apt-get update' and retry"; exit 1; fi; }; \
	  sha256sum --quiet -c ../debs.sha256 || { echo "error: downloaded packages do not match datasets/debs.sha256"; exit 1; }; \
	fi
	@for d in datasets/debs/*.deb; do dpkg-deb -x "$$d" datasets/raw; done
	@touch $@
	@echo "unpacked $$(ls datasets/debs/*.deb | wc -l) packages into datasets/raw"

$(DATA_STAMP): $(RAW_STAMP) datasets/test-1000.tsv | build
	$(NICLAB) data prepare

data: $(DATA_STAMP)

run: data build
	$(NICLAB) train $(EXPERIMENT) --overwrite
	@echo "outputs: checkpoints/$$(basename $(EXPERIMENT) .toml)/ (last.ckpt, best.ckpt, config.toml, metrics.csv, validation.csv)"

test: data build
	$(CARGO) test --release -j $(JOBS)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release -j $(JOBS) --all-targets -- -D warnings

clean-data:
	rm -rf datasets/debs datasets/raw datasets/train datasets/test-1000
