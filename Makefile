# archlab build. `make run` and `make test` install what is missing (tools/deps.sh), build, and run.
SHELL := /bin/bash
CC ?= gcc
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# The OpenMP build of OpenBLAS: it shares our OpenMP thread pool and runs single-threaded when called
# from inside a parallel region (per-head attention GEMMs), instead of oversubscribing the cores.
OPENBLAS_DIR := /usr/lib/$(MULTIARCH)/openblas-openmp
OPENBLAS_INC := /usr/include/$(MULTIARCH)/openblas-openmp
PKG_CFLAGS = $(shell pkg-config --cflags lua5.4 cairo libpng libcjson 2>/dev/null)

WARN := -Wall -Wextra -Wno-unused-parameter
BASE_CFLAGS = -std=c11 -ffp-contract=fast -fno-math-errno -D_GNU_SOURCE $(WARN) -fopenmp -I. -I$(OPENBLAS_INC) $(PKG_CFLAGS) -MMD -MP
OPT ?= -O3 -march=native
# OpenBLAS first, then GSL without its reference CBLAS: every cblas_* call must land in OpenBLAS.
LDLIBS := -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lgsl -llua5.4 -lcairo -lpng16 -lcjson -lm -ldl -fopenmp

# MPI (optional; core/dist.h): Open MPI's compiler wrapper gives the flags. Without it, archlab is one rank of one.
MPI_LIBS := $(shell mpicc --showme:link 2>/dev/null)
ifneq ($(MPI_LIBS),)
BASE_CFLAGS += -DAL_MPI $(shell mpicc --showme:compile 2>/dev/null)
LDLIBS += $(MPI_LIBS)
endif

ENGINE_SRC := $(wildcard core/*.c data/*.c arch/*.c train/*.c analysis/*.c)
PLOTS_SRC := $(wildcard plots/*.c)
SCRIPTS_SRC := $(filter-out scripts/main.c, $(wildcard scripts/*.c))
# the worked examples of docs/EXTENDING.md: toy kinds the tests register, not shipped
TOY_ARCH_SRC := tests/toy_kinds/residual_scaled.c tests/toy_kinds/attention_uniform.c
TOY_PLOT_SRC := tests/toy_kinds/plot_scatter.c
TEST_SRC := $(filter-out tests/grad_%.c, $(wildcard tests/*.c)) $(TOY_PLOT_SRC)
GRAD_SRC := tests/harness.c $(wildcard tests/grad_*.c) $(TOY_ARCH_SRC)

BIN := bin
B32 := build/f32
B64 := build/f64
LIB32 := $(ENGINE_SRC:%.c=$(B32)/%.o) $(PLOTS_SRC:%.c=$(B32)/%.o) $(SCRIPTS_SRC:%.c=$(B32)/%.o)

.PHONY: all deps run test sanitize bench clean gallery fuzz figures crosscheck layers lessons cuda
all: $(BIN)/archlab

deps:
	@tools/deps.sh

$(B32)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT) $(EXTRA_CFLAGS) -c $< -o $@
# The gradient-check build: the same engine in double precision (AL_DOUBLE), so finite differences are exact
# enough for tight tolerances.
$(B64)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT) $(EXTRA_CFLAGS) -DAL_DOUBLE -c $< -o $@

$(BIN)/archlab: $(LIB32) $(B32)/scripts/main.o
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(EXTRA_LDFLAGS)
# --wrap: tests/test_alloc.c counts the allocations archlab's code makes during a training step
ALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc
$(BIN)/test_archlab: $(LIB32) $(TEST_SRC:%.c=$(B32)/%.o)
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(ALLOC_WRAP) $(EXTRA_LDFLAGS)
$(BIN)/gradcheck: $(ENGINE_SRC:%.c=$(B64)/%.o) $(GRAD_SRC:%.c=$(B64)/%.o)
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(EXTRA_LDFLAGS)
# archlab itself in double precision: make crosscheck compares it with the float64 PyTorch reference at a
# tolerance float32 cannot meet, so any disagreement there is a bug and not rounding.
$(BIN)/archlab64: $(ENGINE_SRC:%.c=$(B64)/%.o) $(PLOTS_SRC:%.c=$(B64)/%.o) $(SCRIPTS_SRC:%.c=$(B64)/%.o) $(B64)/scripts/main.o
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(EXTRA_LDFLAGS)
$(B32)/tools/bench.o: EXTRA_CFLAGS += -DAL_OPENBLAS_DIR='"$(OPENBLAS_DIR)"'
$(BIN)/bench: $(LIB32) $(B32)/tools/bench.o
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(EXTRA_LDFLAGS)

run: deps
	@$(MAKE) --no-print-directory $(BIN)/archlab
	$(BIN)/archlab experiments/quickstart.lua

test: deps
	@$(MAKE) --no-print-directory $(BIN)/archlab $(BIN)/test_archlab $(BIN)/gradcheck
	@tools/run_tests.sh $(BIN) $(B32)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build tree.
sanitize: deps
	@$(MAKE) --no-print-directory BIN=build/san/bin B32=build/san/f32 B64=build/san/f64 OPT="-O1 -g -fno-omit-frame-pointer" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" build/san/bin/archlab build/san/bin/test_archlab build/san/bin/gradcheck
	@AL_SANITIZE=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0 tools/run_tests.sh build/san/bin build/san/f32

bench: deps
	@$(MAKE) --no-print-directory $(BIN)/bench $(BIN)/archlab
	$(BIN)/bench
	@tools/bench_mpi.sh $(BIN)/archlab

# Every paper ablation at its default scale (QUICK=1: the tiny scale make test runs), figures and the report
# in out/figures/ (tools/figures.sh).
figures: deps
	@$(MAKE) --no-print-directory $(BIN)/archlab
	@AL_BIN=$(abspath $(BIN))/archlab tools/figures.sh $(if $(QUICK),quick,)

# The lessons of experiments/lessons/, each a one-page handout in out/lessons/NAME/handout.pdf (QUICK=1: the
# tiny scale make test runs).
lessons: deps
	@$(MAKE) --no-print-directory $(BIN)/archlab
	@for f in experiments/lessons/*.lua; do \
	  $(BIN)/archlab --quiet $$f $(if $(QUICK),quick out=out/lessons-quick/$$(basename $$f .lua),) || exit 1; done

# archlab against the independent PyTorch reference in tests/reference/ (tools/crosscheck.sh).
crosscheck: deps
	@$(MAKE) --no-print-directory $(BIN)/archlab $(BIN)/archlab64
	@BIN=$(BIN) tools/crosscheck.sh

# The one-way layering (scripts -> train -> analysis -> arch, data -> core; plots apart), checked on the
# includes and on the symbols the built objects take from each other; make test runs it too.
layers:
	@$(MAKE) --no-print-directory $(BIN)/archlab
	@tools/check_layers.sh $(B32)

clean:
	rm -rf build bin

# ---- make cuda: bin/archlab-cuda and bin/gpu_check, the CUDA backend (core/*.cu; README "GPU: the CUDA backend") ----
# nvcc for the .cu files (sm_90: H100/H200), the same C sources with -DAL_CUDA in their own tree (build/cuda), both
# with warnings as errors. The C code is built for x86-64-v3 (AVX2, FMA), not -march=native: the binaries run on
# the GPU machine, whose processor may lack what this one has (-Wno-psabi: core/simd.h's 64-byte vectors are only
# passed between static inline functions, so the ABI note for targets without AVX-512 does not apply). cuBLAS is linked as a shared library (the GPU machine
# has its own), the CUDA runtime statically. Without nvcc it says so loudly and succeeds: make run and make test
# never need it.
CUDA_HOME ?= /usr/local/cuda
NVCC ?= $(CUDA_HOME)/bin/nvcc
CUDA_GENCODE ?= -gencode=arch=compute_90,code=sm_90
CUDA_OPT ?= -O3 -march=x86-64-v3
BCU := build/cuda
CUDA_SRC := $(wildcard core/*.cu)
NVCC_FLAGS = -std=c++20 -O3 $(CUDA_GENCODE) -Werror all-warnings -Xcompiler -Wall,-Wextra,-Wno-unused-parameter \
  -I. -D_GNU_SOURCE -DAL_CUDA
LIBCU := $(ENGINE_SRC:%.c=$(BCU)/%.o) $(PLOTS_SRC:%.c=$(BCU)/%.o) $(SCRIPTS_SRC:%.c=$(BCU)/%.o) \
  $(CUDA_SRC:%.cu=$(BCU)/%.cu.o)
CUDA_LDLIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart_static -lstdc++ -lrt -lpthread -ldl

$(BCU)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CUDA_OPT) -Werror -Wno-psabi -DAL_CUDA -I$(CUDA_HOME)/include -c $< -o $@
$(BCU)/%.cu.o: %.cu Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@
$(BIN)/archlab-cuda: $(LIBCU) $(BCU)/scripts/main.o
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(CUDA_LDLIBS)
$(BIN)/gpu_check: $(LIBCU) $(BCU)/tools/gpu_check.o
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(CUDA_LDLIBS)

cuda:
	@if [ -x "$(NVCC)" ]; then $(MAKE) --no-print-directory $(BIN)/archlab-cuda $(BIN)/gpu_check && \
	  echo "make cuda: built $(BIN)/archlab-cuda and $(BIN)/gpu_check ($(CUDA_GENCODE))"; \
	else echo "make cuda: SKIPPED (no nvcc at $(NVCC); set CUDA_HOME or NVCC to build the CUDA backend)"; fi

-include $(shell find build -name '*.d' 2>/dev/null)

# One example of every plot kind, for a person to look at (plots/ only; tools/gallery.c).
$(BIN)/gallery: $(LIB32) $(B32)/tools/gallery.o
	@mkdir -p $(BIN)
	$(CC) $^ -o $@ $(LDLIBS) $(EXTRA_LDFLAGS)
gallery: deps
	@$(MAKE) --no-print-directory $(BIN)/gallery
	$(BIN)/gallery out/gallery

# Fuzz the safetensors reader with libFuzzer + ASan (needs clang): make fuzz FUZZ_SECONDS=300
FUZZ_SECONDS ?= 300
fuzz:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	@mkdir -p build/fuzz/corpus $(BIN)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -I. $(shell pkg-config --cflags libcjson) -fsanitize=fuzzer,address,undefined \
	  tools/fuzz_safetensors.c core/safetensors.c core/common.c -o $(BIN)/fuzz_safetensors -lcjson
	@cp tests/fixtures/seed_*.safetensors build/fuzz/corpus/
	$(BIN)/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build/fuzz/ build/fuzz/corpus
