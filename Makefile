# klimavagt — build, demo and tests on Debian 12, and on Debian 13 in a debootstrap root (make test-trixie).
#   make run    install what is missing, build, and play the bundled cloudburst demo against a private broker
#   make test   install what is missing, build, and run every test (the gpio-sim ones inside the VM kit)
#   make test-host  the host tests alone (every test but the gpio-sim, package, systemd and Debian 13 ones)
#   make bench  build the agent for release and run the benchmarks in Benchmarks/ (not part of CI)
#   make docs   the man page (swift-argument-parser's generate-manual plugin) and bash, zsh and fish completions
#   make deb    the Debian package in .build-deb/, checked by lintian
#   make test-systemd  the package as a service under a real systemd in a VM (part of make test)
#   make test-ha  the agent against a real Home Assistant core (its environment cached outside the clone)
#   make fuzz   build the libFuzzer harnesses in Tests/Fuzz/ and run each for FUZZ_SECONDS; any finding fails
#   make test-tsan  the outbox, pipeline, store and socket suites under ThreadSanitizer; any report fails
#   make deb-arm64  the arm64 package for Raspberry Pi OS trixie, cross-built with Debian sid's Swift (.ci/arm64)
#   make test-arm64 the arm64 build under qemu-user: --version, every replay trace against this machine's, the package
#                   installed in a Debian 13 arm64 root, and the core tests of the arm64 test bundle; then its GPIO
#                   tests against an arm64 kernel's gpio-sim in qemu-system-aarch64 (make test-gpiosim-arm64)
#   make test-sid   every host test built with Debian sid's Swift 6.2.3 against libmosquitto 2.1 (in the arm64 build's root)

SWIFT      ?= swift
APT_PKGS   := libmosquitto-dev libgpiod-dev mosquitto mosquitto-clients openssl pkg-config
VM_PKGS    := qemu-system-x86 busybox-static udev
DEB_PKGS   := lintian binutils
# The gpio-sim VM kit (Tests/VM); KLIMAVAGT_VM names another runner, KLIMAVAGT_KERNEL a prebuilt kernel.
VM         ?= $(firstword $(wildcard $(KLIMAVAGT_VM)) Tests/VM/run-in-vm)
# The Debian 13 build: in a debootstrap root cached under /var/cache/klimavagt (.ci/root), /opt/swift bound into it.
TRIXIE     := .build-trixie

.PHONY: all deps vm-deps deb-deps build docs deb run test test-host test-gpiosim test-deb test-systemd test-trixie test-ha test-tsan bench clean fuzz fuzz-build

# Where `build` and `docs` build (a Debian 13 build in its root uses its own, .build-trixie).
BUILD_PATH ?= .build
DOCS := $(BUILD_PATH)/docs

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
	@Tests/VM/virtme-ng --version

build: deps
	$(SWIFT) build --scratch-path $(BUILD_PATH)

# The man page and the shell completions, in $(DOCS).
docs: build
	$(SWIFT) package --scratch-path $(BUILD_PATH) plugin generate-manual --configuration debug
	@mkdir -p $(DOCS)/man $(DOCS)/completions
	cp $(BUILD_PATH)/plugins/GenerateManual/outputs/klimavagt/klimavagt.1 $(DOCS)/man/
	$$($(SWIFT) build --scratch-path $(BUILD_PATH) --show-bin-path)/klimavagt --generate-completion-script bash > $(DOCS)/completions/klimavagt.bash
	$$($(SWIFT) build --scratch-path $(BUILD_PATH) --show-bin-path)/klimavagt --generate-completion-script zsh > $(DOCS)/completions/_klimavagt
	$$($(SWIFT) build --scratch-path $(BUILD_PATH) --show-bin-path)/klimavagt --generate-completion-script fish > $(DOCS)/completions/klimavagt.fish

deb: deps deb-deps
	@bash .ci/deb build

run: build
	@bash .ci/demo

test: deps
	$(SWIFT) build --build-tests
	$(MAKE) --no-print-directory test-host
	$(MAKE) --no-print-directory test-gpiosim
	$(MAKE) --no-print-directory test-deb
	$(MAKE) --no-print-directory test-trixie

test-host: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip GPIOSim

# The Runtime tests that exercise the outbox, the pipeline, the store and the socket server, built and run under
# ThreadSanitizer (the agents they start are the TSan build too); any report, from the tests or a child, fails.
TSAN_SUITES := OutboxTests|PipelineRoutingTests|SensorStatesTests|RestartPlausibilityTests|TimeSeriesStoreTests|AlertDeliveryTests|UnreadableStateTests|SocketServerTests|RestartWindowTests|StateFileDamageTests|AlertStormFaultTests|FullDiskTests|UnreadableStateFilesAsUserTests
test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	@rm -rf .build-tsan/reports; mkdir -p .build-tsan/reports; status=0; \
	TSAN_OPTIONS="log_path=$(CURDIR)/.build-tsan/reports/tsan" \
	  $$($(SWIFT) build --sanitize=thread --scratch-path .build-tsan --show-bin-path)/klimavagtPackageTests.xctest \
	  --testing-library swift-testing --filter '$(TSAN_SUITES)' || status=$$?; \
	if ls .build-tsan/reports/tsan.* >/dev/null 2>&1; then \
	  cat .build-tsan/reports/tsan.*; echo "ThreadSanitizer reported the above"; exit 1; fi; \
	[ $$status -eq 0 ] || exit $$status; echo "ThreadSanitizer: no report"

# Builds the package, then installs, checks, removes and purges it in a throw-away overlay of a Debian 12 root,
# then runs it as a service under a real systemd (PID 1 of the gpio-sim VM booted from that root, Tests/System).
test-deb: deb
	@bash .ci/deb test
	@bash .ci/deb systemd

# The package under a real systemd alone (DEB_DIST=trixie for Debian 13, after make test-trixie built its package).
test-systemd: deb
	@bash .ci/deb systemd

# SwiftPM itself stalls under the VM's emulation, so the test bundle runs directly there.
test-gpiosim: vm-deps
	@# The VM's console reopens standard output, so its output goes to a file that is shown afterwards.
	@log=$$(mktemp); status=0; \
	mkdir -p .build/vm-tmp; \
	$(VM) --chips 2 -- env TMPDIR=$$PWD/.build/vm-tmp KLIMAVAGT_EXPECT_GPIOD_API=1 \
	  $$($(SWIFT) build --show-bin-path)/klimavagtPackageTests.xctest --testing-library swift-testing \
	  --filter GPIOSim >"$$log" 2>&1 || status=$$?; \
	cat "$$log"; rm -f "$$log"; exit $$status

# Debian 13 (Raspberry Pi OS trixie's base, libgpiod 2.x): build, every host test, the gpio-sim tests in the VM
# chrooted into the same root, the package (Depends libgpiod3) and its install test, all inside the root.
test-trixie: vm-deps
	bash .ci/root run trixie swift build --build-tests --scratch-path $(TRIXIE)
	bash .ci/root run trixie $(TRIXIE)/debug/klimavagtPackageTests.xctest --testing-library swift-testing --skip GPIOSim
	@log=$$(mktemp); status=0; mkdir -p $(TRIXIE)/vm-tmp; \
	$(VM) --chips 2 --root "$$(bash .ci/root path trixie)" -- env TMPDIR=/src/$(TRIXIE)/vm-tmp \
	  KLIMAVAGT_EXPECT_GPIOD_API=2 $(TRIXIE)/debug/klimavagtPackageTests.xctest --testing-library swift-testing \
	  --filter GPIOSim >"$$log" 2>&1 || status=$$?; \
	cat "$$log"; rm -f "$$log"; exit $$status
	bash .ci/root run trixie env BUILD_PATH=$(TRIXIE) DEB_OUT=.build-deb-trixie bash .ci/deb build
	DEB_DIST=trixie DEB_OUT=.build-deb-trixie bash .ci/deb test
	DEB_DIST=trixie DEB_OUT=.build-deb-trixie bash .ci/deb systemd

# The agent against a real Home Assistant core (2026.2.3 in a cached Debian 13 root, Tests/HomeAssistant/env) and a
# private mosquitto: the devices and entities it creates, their states through a scenario (an alert firing and
# resolving, nodata, a suspect reading, SIGTERM, SIGSTOP, SIGKILL), and its log about the agent's payloads.
test-ha: build
	nice -n 10 Tests/HomeAssistant/run $$($(SWIFT) build --scratch-path $(BUILD_PATH) --show-bin-path)/klimavagt

# arm64 (Debian 13, Raspberry Pi OS trixie): cross-built in a Debian sid root with sid's Swift and a Swift SDK for a
# Debian 13 arm64 sysroot, all cached under /var/cache/klimavagt/arm64; checked under qemu-user (.ci/arm64).
.PHONY: deb-arm64 test-arm64 test-gpiosim-arm64
deb-arm64:
	bash .ci/arm64 deb

# The package's checks under qemu-user, then every test of the arm64 test bundle (Swift 6.2.3) but the gpio-sim ones
# under qemu-user (their time limits scaled for emulation), then the gpio-sim ones in the arm64 gpio-sim VM.
test-arm64:
	bash .ci/arm64 test
	bash .ci/arm64 unit
	$(MAKE) --no-print-directory test-gpiosim-arm64

# The arm64 test bundle's GPIOSim suites against the real kernel: a gpio-sim kernel for arm64 (Tests/VM/kernel --arch
# arm64, cached) in qemu-system-aarch64 (TCG), booting a Debian 13 arm64 root with two simulated chips.
test-gpiosim-arm64:
	bash .ci/arm64 gpiosim

# Every host test built natively (x86_64) with Debian sid's Swift 6.2.3, against sid's libmosquitto 2.1 and its
# mosquitto 2.1 broker, in the sid root of the arm64 build: the code below Swift 6.3 (the default executor instead of
# the task pool) and the newer libmosquitto, which writes TLS records without MSG_NOSIGNAL.
.PHONY: test-sid
test-sid:
	bash .ci/arm64 run bash -c 'swift build --build-tests -Xswiftc -Xfrontend -Xswiftc -disable-cross-import-overlays \
	  --scratch-path .build-sid && swift test --skip-build --scratch-path .build-sid'

# The MQTT load benchmark runs the agent as packaged beside mosquitto_sub, a Python paho-mqtt script
# (python3-paho-mqtt) and collectd 5.12 (Debian's collectd-core, downloaded and unpacked under
# /var/cache/klimavagt/collectd by Benchmarks/MQTTLoad/collectd-root, not installed), at QoS 0 and 1, flooded and
# paced; the Store, AlertLatency and Footprint benchmarks beside it.
# The footprint benchmark measures the agent as packaged (Swift runtime linked in) beside the design card's floor.
bench: deps
	$(call apt_install,python3-paho-mqtt)
	$(SWIFT) build -c release --product klimavagt
	$(SWIFT) build -c release --product klimavagt --static-swift-stdlib --scratch-path .build-deb
	cd Benchmarks && $(SWIFT) build -c release --product footprint-floor --static-swift-stdlib --scratch-path .build-floor
	bash Benchmarks/MQTTLoad/collectd-root >/dev/null
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark

# Fuzzing: libFuzzer harnesses (Tests/Fuzz/) built with -sanitize=fuzzer,address in .build-fuzz/, each run for
# FUZZ_SECONDS on a corpus grown from the repository's fixtures (Tests/Fuzz/seeds.py). A crash, a Swift trap, a leak,
# an input running over 10 s or a process over 2 GB is a finding: libFuzzer's fork mode keeps fuzzing past it, the
# inputs go to .build-fuzz/findings/HARNESS/, Tests/Fuzz/triage.py groups them by the source line that stopped the
# agent, and make fails once every harness has run. The grown corpus stays in .build-fuzz/corpus/ for the next run.
FUZZ_SECONDS   ?= 60
FUZZ_DIR       := .build-fuzz
FUZZ_HARNESSES ?= payload config trace control
FUZZ_BUILD     := $(SWIFT) build --scratch-path $(FUZZ_DIR) -c release -Xswiftc -enable-testing \
                  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
FUZZ_OPTIONS   ?= -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1
# Harnesses run side by side, one per core (Tests/Fuzz/run).
FUZZ_JOBS      ?= $(shell nproc)
# Swift's own crash reporter would read the dying process's memory under ASan; libFuzzer reports instead.
FUZZ_ENV       := SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Fuzz/lsan.supp

fuzz-build: deps
	$(call apt_install,python3-yaml)
	@for h in $(FUZZ_HARNESSES); do echo "$(FUZZ_BUILD) --product klimavagt-fuzz-$$h"; \
	  $(FUZZ_BUILD) --product klimavagt-fuzz-$$h || exit 1; done

fuzz: fuzz-build
	@python3 Tests/Fuzz/seeds.py . $(FUZZ_DIR)/seeds
	@$(FUZZ_ENV) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_OPTIONS="$(FUZZ_OPTIONS)" \
	  Tests/Fuzz/run "$$($(FUZZ_BUILD) --show-bin-path)" $(FUZZ_DIR) $(FUZZ_HARNESSES)

clean:
	$(SWIFT) package clean
	rm -rf .build-deb .build-deb-trixie .build-deb-arm64 .build-trixie .build-tsan .build-fuzz .build-kernel .build-sid .build-prof \
	  .build-arm64 .build-arm64-docs .build-arm64-host .build-arm64-test .build-arm64-tests demo-state \
	  Benchmarks/.build Benchmarks/.build-floor Benchmarks/.benchmarkBaselines
