# The two commands: `make run` and `make test`. Everything else is a helper.
JOBS      ?= $(shell nproc)
BUILD     ?= build
ASAN      ?= build-asan
WERROR    ?= $(or $(TOLLGATE_WERROR),OFF)
CONFIG    ?= conf/tollgate.yaml

.PHONY: setup build build-asan run test test-release test-asan bench compare clean

setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOLLGATE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DTOLLGATE_SANITIZE=ON -DTOLLGATE_BENCH=OFF -DTOLLGATE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(ASAN) -j $(JOBS) --target unit_tests integration_tests tollgated

run: build
	@mkdir -p run var
	@echo "tollgated: data socket run/tollgate.sock, admin socket run/admin.sock (config $(CONFIG))"
	@echo "try: redis-cli -s run/tollgate.sock CHECK acme-loans CHANNEL pc PURPOSE credit-score"
	exec $(BUILD)/tollgated --config $(CONFIG)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

test-asan: build-asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600 -L unit

test: test-release test-asan

bench: build
	$(BUILD)/bench/tollgate_bench

compare: build
	bench/compare.sh

clean:
	rm -rf $(BUILD) $(ASAN)
