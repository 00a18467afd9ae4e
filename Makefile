# The two commands: `make run` and `make test`. Everything else is a helper.
JOBS      ?= $(shell nproc)
BUILD     ?= build
ASAN      ?= build-asan
TSAN      ?= build-tsan
WERROR    ?= $(or $(TOLLGATE_WERROR),OFF)
CONFIG    ?= conf/tollgate.yaml

.PHONY: setup build build-asan build-tsan run test test-release test-asan test-tsan bench compare durability clean

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

test: test-release test-asan test-tsan

bench: build
	$(BUILD)/bench/tollgate_bench

compare: build
	bench/compare.sh

durability: build
	bench/durability.sh

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN)
