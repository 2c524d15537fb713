# PUOD build. Every tool the build needs is installed here, pinned, into
# .tools/bin: nothing has to be installed by hand.
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

VERSION ?= $(shell v=$$(git describe --tags --exact-match 2>/dev/null) && echo $${v#v} || echo 0.1.0-dev+$$(git rev-parse --short HEAD 2>/dev/null || echo unknown))
LDFLAGS := -s -w -X github.com/puod/puod/host/version.Version=$(VERSION)
PLUGINS := $(notdir $(wildcard plugins/*))

.PHONY: all build host plugins web run test test-go test-web proto proto-check bench tools clean services fmt vet

all: build

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc

## proto: regenerate the committed Go code from proto/.
proto: tools
	cd proto && buf lint && buf generate

## proto-check: fail when the generated code is stale or the protocol broke
## compatibility with the last release (proto/releases/).
proto-check: tools
	scripts/proto-check.sh

## build: bin/puod and one bundle per first-party plugin under bin/plugins/<id>/.
build: web host plugins

host:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/puod ./host/cmd/puod

plugins: host
	scripts/build-plugins.sh

web:
	scripts/build-web.sh

## run: build everything and start the host with the demo on embedded defaults.
run: build
	./bin/puod serve --demo

## test: every test (Go, proto compatibility, web). Starts PostgreSQL and Redis when installed but down.
test: proto-check
	scripts/services.sh
	scripts/test.sh

## bench: long-running benchmarks; writes BENCHMARKS.md.
bench: build
	scripts/services.sh
	scripts/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')
vet:
	$(GO) vet ./...

clean:
	rm -rf bin .tools
