# iris-helper: build, test, benchmark, package.
# `make demo` runs the main job; `make test` runs every test (installing what the tests need first).
GO        ?= go
BIN       := bin/iris-helper
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STUB_IMAGE ?= iris-helper/iris-stub:dev
# package:FuzzName:executions run by `make fuzz` (their seed corpora run in `go test` too). The budgets
# are counts of generated inputs, not durations: with a duration (-fuzztime 10s) Go 1.26's fuzz
# coordinator can race its own deadline under load and fail a clean run with a bare "context deadline
# exceeded" and no input written (golang/go#75804, fixed in Go 1.27); a count has no deadline, so load
# only makes it slower. Minimizing an input (a new interesting one, or a crasher before it is written) is
# bounded by a count too (FUZZMINIMIZE; Go's default is 60 s, and one 48 KB .env input spent that whole
# minute here). Sized for about 10 s per target on a busy 2-core machine. FUZZTIME=Nx or a duration
# overrides every budget for a longer local run (a duration brings that race back).
FUZZ_TARGETS ?= workspace/dotenv:FuzzRender:50000 registry:FuzzDecode:150000 rpc:FuzzStream:80000 rpc:FuzzRequest:40000
FUZZTIME ?=
FUZZMINIMIZE ?= 500x
# staticcheck, pinned in its own module (scripts/tools/go.mod, a `tool` directive) so that its
# dependencies stay out of iris-helper's go.mod; go tool builds it once and caches it.
STATICCHECK := $(GO) tool -modfile=scripts/tools/go.mod staticcheck
CROSS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all build demo test setup docker-engine compose busybox editors e2e-tools test-ports lint gotest fuzz cross bench \
	stub-image ext-test e2e editors-test vsix clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/iris-helper

demo: build
	./scripts/demo.sh

# What the tests need, installed when missing (idempotent; downloads cached outside the tree). The
# ensure-* scripts take turns at apt-get (scripts/apt-install.sh), so these may run at once.
setup: docker-engine compose busybox editors e2e-tools test-ports

docker-engine:
	./scripts/ensure-docker.sh

# Docker Compose v2 (2.24+), built from its Go module when missing (scripts/ensure-compose.sh).
compose: docker-engine
	./scripts/ensure-compose.sh

# Debian's busybox-static: the stand-in IRIS image's shell (scripts/ensure-busybox.sh).
busybox:
	./scripts/ensure-busybox.sh

editors:
	./scripts/ensure-editors.sh

e2e-tools:
	./scripts/ensure-e2e.sh

test-ports:
	./scripts/reserve-test-ports.sh

# `make test` and `make -jN test` run the same suites on the same prerequisites: each suite names what
# it needs below (setup piece, stand-in image, binary), so under -j nothing starts before its needs.
test: setup lint cross stub-image gotest fuzz editors-test ext-test e2e
	@echo "make test: all suites passed"

# Suites that must not overlap, ordered only when `make test` runs them all (run alone, a suite does
# not pull in the other):
# - e2e after ext-test: ext-test's `npm ci` deletes and reinstalls extension/node_modules, which the
#   e2e's scripts/vsix.sh type-checks and bundles the extension from.
# - e2e after gotest: both drive the one Docker engine (own port bands and labels, so they would not
#   collide) but both are the heavy suites, and the VS Code e2e's waits for the UI are bounded in time;
#   with `go test -race ./...` beside it on 2 cores it is no longer the run `make test` makes.
ifneq ($(filter test,$(MAKECMDGOALS)),)
e2e: ext-test gotest
endif

# gofmt, tidy go.mod files, go vet and staticcheck; then the same for the stand-in image's program,
# which ./... never reaches (Go skips testdata/), as built for the image (linux).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './extension/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "lint: go.mod/go.sum are not tidy: run 'go mod tidy'"; exit 1; }
	@$(GO) -C scripts/tools mod tidy -diff || { echo "lint: scripts/tools/go.mod is not tidy: run 'go -C scripts/tools mod tidy'"; exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...
	CGO_ENABLED=0 GOOS=linux $(GO) build -o /dev/null ./testdata/iris-stub
	GOOS=linux $(GO) vet ./testdata/iris-stub
	GOOS=linux $(STATICCHECK) ./testdata/iris-stub

gotest: docker-engine test-ports stub-image
	$(GO) test -race -count=1 -timeout 30m ./... ./testdata/iris-stub

# A failure is a crasher (go test writes it to <pkg>/testdata/fuzz/<Name>/ and names it) or a failing seed.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget='$(FUZZTIME)'; \
	  [ -n "$$budget" ] || budget=$${rest#*:}x; \
	  echo "fuzz $$pkg $$name for $$budget"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget -fuzzminimizetime $(FUZZMINIMIZE) ./$$pkg; done

cross:
	@set -e; for p in $(CROSS); do os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  echo "build $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/iris-helper-$$os-$$arch$$ext ./cmd/iris-helper; done

stub-image: docker-engine busybox
	$(GO) run ./dockerops/dockertest/cmd/buildstub -tag $(STUB_IMAGE)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

editors-test: editors test-ports build
	@if [ -x scripts/editors-test.sh ]; then ./scripts/editors-test.sh; fi

ext-test:
	@if [ -f extension/package.json ]; then cd extension && npm ci --no-audit --no-fund && npm test; fi

e2e: docker-engine e2e-tools test-ports stub-image build
	@if [ -x scripts/e2e.sh ]; then ./scripts/e2e.sh; fi

vsix:
	./scripts/vsix.sh

clean:
	rm -rf bin dist extension/dist extension/bin extension/*.vsix
