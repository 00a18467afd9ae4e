# The two commands: `make run` and `make test`. Everything else is a helper.
JOBS      ?= $(shell nproc)
BUILD     ?= build
ASAN      ?= build-asan
TSAN      ?= build-tsan
FUZZ      ?= build-fuzz
FUZZ_CXX  ?= clang++-16
FUZZ_CC   ?= clang-16
FUZZ_SECONDS ?= 300
WERROR    ?= $(or $(TOLLGATE_WERROR),OFF)
CONFIG    ?= conf/tollgate.yaml

.PHONY: setup build build-asan build-tsan build-fuzz run test test-release test-asan test-tsan test-fuzz fuzz bench compare durability install deb soak clean

setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOLLGATE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DTOLLGATE_SANITIZE=ON -DTOLLGATE_BENCH=OFF -DTOLLGATE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(ASAN) -j $(JOBS) --target unit_tests

# ThreadSanitizer over the unit tests: every lock-free structure's race tests.
build-tsan: setup
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOLLGATE_TSAN=ON -DTOLLGATE_BENCH=OFF -DTOLLGATE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target unit_tests

# libFuzzer targets (tests/fuzz/README.md): clang-16, ASan+UBSan, only the
# core library and the fuzzers are built.
build-fuzz: setup
	@cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DCMAKE_C_COMPILER=$(FUZZ_CC) \
	  -DTOLLGATE_FUZZ=ON -DTOLLGATE_BENCH=OFF -DTOLLGATE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(FUZZ) -j $(JOBS) --target fuzzers

run: build
	@mkdir -p run var
	@echo "tollgated: data socket run/tollgate.sock, admin socket run/admin.sock (config $(CONFIG))"
	@echo "try: redis-cli -s run/tollgate.sock CHECK ip:203.0.113.7   (and build/tollgate --help)"
	exec $(BUILD)/tollgated --config $(CONFIG)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

test-asan: build-asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600 -L unit

test-tsan: build-tsan
	cd $(TSAN) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -j $(JOBS) --timeout 600 -L unit

# Each fuzz target for about 20 s, two at a time: a regression of a found bug
# or a new crash fails CI and leaves its reproducer in $(FUZZ)/tests/fuzz/<target>/.
test-fuzz: build-fuzz
	@cd $(FUZZ) && ctest --output-on-failure -j 2 --timeout 300 -L fuzz; status=$$?; \
	  cat tests/fuzz/*/summary.txt; exit $$status

# Each fuzz target for FUZZ_SECONDS (default 300), growing its corpus in $(FUZZ)/tests/fuzz/<target>/corpus.
fuzz: build-fuzz
	@cd $(FUZZ) && TOLLGATE_FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -j $(JOBS) \
	  --timeout $$(( $(FUZZ_SECONDS) + 300 )) -L fuzz; status=$$?; cat tests/fuzz/*/summary.txt; exit $$status

test: test-release test-asan test-tsan test-fuzz

bench: build
	$(BUILD)/bench/tollgate_bench

compare: build
	bench/compare.sh

durability: build
	bench/durability.sh

# Binaries, /etc/tollgate/tollgate.yaml, the systemd unit and the docs
# (packaging/install.cmake); PREFIX=/usr/local by default, DESTDIR honoured.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package (CPack): $(BUILD)/package/tollgate_<version>_<arch>.deb.
deb: build
	cd $(BUILD) && cpack -G DEB

# Mixed load, reloads, admin commands and churn; fails on growth (scripts/soak.sh).
SOAK_SECONDS ?= 3600
soak: build
	scripts/soak.sh $(SOAK_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(FUZZ)
