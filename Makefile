# klimavagt — build, demo and tests on Debian 12.
#   make run    install what is missing, build, and play the bundled cloudburst demo against a private broker
#   make test   install what is missing, build, and run every test (the gpio-sim ones inside the VM kit)
#   make bench  build the agent for release and run the benchmarks in Benchmarks/ (not part of CI)
#   make docs   the man page (swift-argument-parser's generate-manual plugin) and bash, zsh and fish completions
#   make deb    the Debian package in .build-deb/, checked by lintian

SWIFT      ?= swift
APT_PKGS   := libmosquitto-dev libgpiod-dev mosquitto mosquitto-clients openssl pkg-config
VM_PKGS    := qemu-system-x86 busybox-static udev
DEB_PKGS   := lintian binutils
VM         ?= $(firstword $(wildcard ../shared/vm/run-in-vm) $(wildcard $(KLIMAVAGT_VM)))

.PHONY: all deps vm-deps deb-deps build docs deb run test test-host test-gpiosim test-deb bench clean

DOCS := .build/docs

all: build docs

# Installs the Debian packages of $(1) that are not installed yet.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(APT_PKGS))

deb-deps:
	$(call apt_install,$(DEB_PKGS))

# The gpio-sim VM boots with virtme-ng, whose guest needs udev to find its console ports.
vm-deps:
	$(call apt_install,$(VM_PKGS))
	@command -v vng >/dev/null || python3 -m pip install -q virtme-ng >/dev/null 2>&1 || true

build: deps
	$(SWIFT) build

# The man page and the shell completions, in $(DOCS).
docs: build
	$(SWIFT) package plugin generate-manual --configuration debug
	@mkdir -p $(DOCS)/man $(DOCS)/completions
	cp .build/plugins/GenerateManual/outputs/klimavagt/klimavagt.1 $(DOCS)/man/
	$$($(SWIFT) build --show-bin-path)/klimavagt --generate-completion-script bash > $(DOCS)/completions/klimavagt.bash
	$$($(SWIFT) build --show-bin-path)/klimavagt --generate-completion-script zsh > $(DOCS)/completions/_klimavagt
	$$($(SWIFT) build --show-bin-path)/klimavagt --generate-completion-script fish > $(DOCS)/completions/klimavagt.fish

deb: deps deb-deps
	@bash .ci/deb build

run: build
	@bash .ci/demo

test: deps
	$(SWIFT) build --build-tests
	$(MAKE) --no-print-directory test-host
	$(MAKE) --no-print-directory test-gpiosim
	$(MAKE) --no-print-directory test-deb

test-host:
	$(SWIFT) test --skip-build --skip GPIOSim

# Builds the package, then installs, checks, removes and purges it on this machine (as root).
test-deb: deb
	@bash .ci/deb test

# SwiftPM itself stalls under the VM's emulation, so the test bundle runs directly there.
test-gpiosim: vm-deps
	@if [ -z "$(VM)" ]; then \
	  echo "gpio-sim tests NOT RUN: no VM kit (../shared/vm/run-in-vm, or set KLIMAVAGT_VM)"; exit 1; \
	fi
	@# The VM's console reopens standard output, so its output goes to a file that is shown afterwards.
	@log=$$(mktemp); status=0; \
	mkdir -p .build/vm-tmp; \
	$(VM) --chips 2 -- env TMPDIR=$$PWD/.build/vm-tmp \
	  $$($(SWIFT) build --show-bin-path)/klimavagtPackageTests.xctest --testing-library swift-testing \
	  --filter GPIOSim >"$$log" 2>&1 || status=$$?; \
	cat "$$log"; rm -f "$$log"; exit $$status

# The MQTT load benchmark runs the release-built agent binary against mosquitto_sub.
# The footprint benchmark measures the agent as packaged (Swift runtime linked in) beside the design card's floor.
bench: deps
	$(SWIFT) build -c release --product klimavagt
	$(SWIFT) build -c release --product klimavagt --static-swift-stdlib --scratch-path .build-deb
	cd Benchmarks && $(SWIFT) build -c release --product footprint-floor --static-swift-stdlib --scratch-path .build-floor
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark

clean:
	$(SWIFT) package clean
