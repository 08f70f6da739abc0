# iris-helper: build, test, benchmark, package.
# `make demo` runs the main job; `make test` runs every test (installing what the tests need first).
GO        ?= go
BIN       := bin/iris-helper
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 10s
STUB_IMAGE ?= iris-helper/iris-stub:dev
# package:FuzzName pairs run for FUZZTIME each by `make fuzz` (their seed corpora run in `go test` too)
FUZZ_TARGETS ?= workspace:FuzzRenderEnv registry:FuzzDecode rpc:FuzzStream rpc:FuzzRequest
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

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg; done

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
