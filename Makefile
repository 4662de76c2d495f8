# phoenix — see README.md. Targets stay short; longer logic lives in hack/.
GO ?= go
BIN := bin/phoenix
# The Kubernetes versions the integration tests run (blue and green).
TEST_K8S_VERSIONS ?= v1.24.17 v1.37.2
PKG := ./...

.PHONY: all build test unit integration test-binaries lint bench demo gen-knowledge clean

all: build

build: ## build bin/phoenix
	$(GO) build -o $(BIN) ./cmd/phoenix

test-binaries: ## build kube-apiserver/controller-manager/scheduler per test version, kwok, and the Velero server into ~/.cache/phoenix
	hack/build-k8s.sh $(TEST_K8S_VERSIONS)
	hack/build-velero.sh

unit: ## fast tests, no control planes
	$(GO) test -short -count=1 $(PKG)

test: test-binaries lint ## everything CI runs: unit and integration tests on real local control planes
	PHOENIX_REQUIRE_INTEGRATION=1 $(GO) test -count=1 -timeout 45m $(PKG)

lint: ## gofmt and go vet
	hack/lint.sh

bench: build test-binaries ## benchmarks; numbers go to docs/benchmarks.md
	hack/bench.sh

demo: build test-binaries ## the whole blue-green upgrade of the sample payments app, v1.24.17 -> v1.37.2
	hack/demo.sh

gen-knowledge: ## regenerate assess/data/generated.json and the gate counts in docs/assess.md from the Kubernetes source (module cache; ~15 min cold)
	$(GO) run ./hack/gen-knowledge

clean:
	rm -rf bin
