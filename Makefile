# The front door. Every target installs what it needs first.
#   make          build (Release) into build/
#   make demo     build, start a local Cassandra if none answers, run the quickstart
#   make test     every test suite; ends with "N passed, N failed"
#   make sanitize C tests under ASan + UBSan
#   make fuzz     every fuzzer for FUZZ_SECONDS (default 300) each
#   make bench    the benchmarks under bench/
#   make bench-drivers  cqlua vs gocql vs the Python driver on a local node (scripts/bench-drivers)
#   make lint     luacheck and clang-format checks
#   make rock     install the LuaRock into build/rocktree
BUILD ?= build
FUZZ_SECONDS ?= 300

.PHONY: all deps build demo test sanitize fuzz bench bench-drivers lint format rock clean cassandra-up cassandra-down

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@ninja -C $(BUILD)

demo: build
	@scripts/demo

test: deps
	@scripts/run-tests

sanitize: deps
	@scripts/run-tests sanitize

fuzz: deps
	@CQLUA_FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests fuzz

bench: build
	@scripts/run-bench

bench-drivers: deps
	@scripts/bench-drivers

lint: deps
	@scripts/run-tests lint

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

rock: deps
	@luarocks --lua-version=5.1 make --tree $(BUILD)/rocktree rockspec/cqlua-scm-1.rockspec

cassandra-up:
	@scripts/cassandra up

cassandra-down:
	@scripts/cassandra down

clean:
	rm -rf $(BUILD) build-asan build-fuzz build.luarocks
