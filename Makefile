# The README's commands. CMake does the building; this file only names the
# jobs: make, make check, make asan, make fuzz, make demo, make lint.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20
CTEST_ARGS ?=

.PHONY: all deps check asan fuzz demo tour lint format bench clean

all: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

deps:
	@sh scripts/deps.sh

check: deps lint all
	ctest --test-dir $(BUILD) --output-on-failure $(CTEST_ARGS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCCM_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure $(CTEST_ARGS)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCCM_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

demo: deps all
	bash scripts/flow.sh $(BUILD)

tour: all
	sh scripts/tour.sh $(BUILD)

bench: all
	sh bench/run.sh $(BUILD)

lint:
	@sh scripts/lint.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
