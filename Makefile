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
FUZZ_TARGETS ?= workspace:FuzzRenderEnv:50000 registry:FuzzDecode:150000 rpc:FuzzStream:80000 rpc:FuzzRequest:40000
FUZZTIME ?=
FUZZMINIMIZE ?= 500x
CROSS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all build demo test setup lint gotest fuzz cross bench stub-image ext-test e2e editors-test vsix clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/iris-helper

demo: build
	./scripts/demo.sh

setup:
	./scripts/setup.sh

test: setup lint cross stub-image gotest fuzz editors-test ext-test e2e
	@echo "make test: all suites passed"

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './extension/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

gotest:
	$(GO) test -race -count=1 -timeout 30m ./...

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

stub-image:
	$(GO) run ./dockerops/dockertest/cmd/buildstub -tag $(STUB_IMAGE)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

editors-test:
	@if [ -x scripts/editors-test.sh ]; then ./scripts/editors-test.sh; fi

ext-test:
	@if [ -f extension/package.json ]; then cd extension && npm ci --no-audit --no-fund && npm test; fi

e2e:
	@if [ -x scripts/e2e.sh ]; then ./scripts/e2e.sh; fi

vsix:
	./scripts/vsix.sh

clean:
	rm -rf bin dist extension/dist extension/bin extension/*.vsix
