# Kybern: the Kubernetes architecture as CRDs reconciled by controller-runtime.
# `make help` lists the targets. Tools are pinned and installed into bin/.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
export PATH := /usr/local/go/bin:$(PATH)

LOCALBIN ?= $(CURDIR)/bin
STATE_DIR ?= $(CURDIR)/.kybern
LOCAL_KUBECONFIG := $(STATE_DIR)/kubeconfig

CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
CONTROLPLANE ?= $(LOCALBIN)/controlplane
HELM_VERSION ?= v3.22.0
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)

# kybern's own images: make images names them $(IMAGE_REPO)/kybern-<component>:$(VERSION).
VERSION ?= v0.1.0
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
IMAGE_REPO ?= kybern.local

# The cluster that install, uninstall and run act on: the one KUBECONFIG names, else the
# local control plane (started when needed).
ifeq ($(strip $(KUBECONFIG)),)
TARGET_KUBECONFIG := $(LOCAL_KUBECONFIG)
LOCAL_CLUSTER := 1
else
TARGET_KUBECONFIG := $(KUBECONFIG)
LOCAL_CLUSTER :=
endif

# Manager addresses for make run; change them when the defaults are taken.
METRICS_ADDR ?= :8443
HEALTH_ADDR ?= :8081
WEBHOOK_ADDR ?= 127.0.0.1:9443
METRICS_API_ADDR ?= 127.0.0.1:4443
# SIMULATE_NODES=N makes make run add a node agent with N simulated nodes (at least one
# when it cannot run real containers: not root, or the node's packages cannot be installed).
SIMULATE_NODES ?= 0

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the manager's and node agent's RBAC from the API types and markers.
	$(CONTROLLER_GEN) rbac:roleName=kybern-manager crd:generateEmbeddedObjectMeta=true paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=kybern-node-agent paths="./node-agent/..." output:rbac:artifacts:config=config/rbac/node-agent
	go run ./hack/crdfix config/crd/bases
	hack/chart-sync.sh

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint with .golangci.yml (gofmt, goimports, vet, staticcheck, revive, ginkgolinter and more).
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: manifests generate lint ## Check that the committed generated files match the sources, and lint.
	@if ! git diff --exit-code --stat -- api config charts || [ -n "$$(git status --porcelain -- charts)" ]; then \
	  echo "verify: generated files differ from the committed ones; run make manifests generate and commit them" >&2; exit 1; fi

##@ Test

# The layers are package lists: see hack/test-packages.sh.
ENVTEST_ASSETS = KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)"

.PHONY: test
test: manifests generate fmt vet envtest node-deps images helm ## Run every test layer: unit, envtest and e2e (e2e needs root).
	$(ENVTEST_ASSETS) HELM="$(HELM)" go test ./... -count=1 -timeout 30m

.PHONY: test-unit
test-unit: ## Run the unit tests: table tests and fakes, no apiserver.
	go test $$(hack/test-packages.sh unit) -count=1 -timeout 10m

.PHONY: test-envtest
test-envtest: envtest ## Run the envtest suites: the controllers, the node agent on simulated runtimes, the CRDs and the manager binary against a real apiserver.
	$(ENVTEST_ASSETS) go test $$(hack/test-packages.sh envtest) -count=1 -timeout 30m

.PHONY: test-e2e
test-e2e: e2e-root envtest node-deps images helm ## Run the e2e suites: real containers through containerd, and the Helm chart with a node joined through it (root).
	$(ENVTEST_ASSETS) HELM="$(HELM)" go test $$(hack/test-packages.sh e2e) -count=1 -timeout 30m

.PHONY: e2e-root
e2e-root:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "test-e2e: the e2e suite runs real containers, which needs root to run containerd and create network namespaces; run: sudo make test-e2e" >&2; exit 1; fi

.PHONY: bench
bench: envtest ## Run the benchmarks, the soak among them (root; SOAK_DURATION, default 30m).
	$(ENVTEST_ASSETS) go test ./... -run '^$$' -bench . -benchtime 1x -timeout 120m

.PHONY: soak
soak: envtest ## Run only the soak: Deployments and Jobs churned over two node agents for SOAK_DURATION (default 30m), then what leaked (root).
	$(ENVTEST_ASSETS) go test ./test/bench -run '^$$' -bench '^BenchmarkSoak$$' -benchtime 1x -timeout 0

##@ Build

.PHONY: build
build: generate fmt vet ## Build bin/manager, bin/node-agent and its container log driver bin/kybern-log-driver, and the kubectl plugin bin/kubectl-kybern.
	go build -o $(LOCALBIN)/manager .
	go build -o $(LOCALBIN)/node-agent ./node-agent
	go build -o $(LOCALBIN)/kybern-log-driver ./node-agent/logdriver
	go build -o $(LOCALBIN)/kubectl-kybern ./kubectl-kybern

.PHONY: run
run: modules build install $(CONTROLPLANE) ## Run the local control plane (if none is up), the manager and a node agent in the foreground: as root, real containers (installing containerd and the rest with apt first); else simulated nodes. SIMULATE_NODES=N adds N simulated nodes.
	KUBECONFIG="$(TARGET_KUBECONFIG)" CLUSTER_CA_DIR="$(if $(LOCAL_CLUSTER),$(STATE_DIR)/cluster-ca)" CONTROLPLANE="$(CONTROLPLANE)" STATE_DIR="$(STATE_DIR)" METRICS_ADDR="$(METRICS_ADDR)" HEALTH_ADDR="$(HEALTH_ADDR)" WEBHOOK_ADDR="$(WEBHOOK_ADDR)" METRICS_API_ADDR="$(METRICS_API_ADDR)" SIMULATE_NODES="$(SIMULATE_NODES)" hack/run.sh

.PHONY: modules
modules: ## Check that every Go module is in the cache or reachable.
	@hack/check-modules.sh

##@ Local control plane

.PHONY: node-deps
node-deps: ## Install containerd, runc, iproute2 and busybox-static with apt when missing (as root).
	@hack/node-deps.sh

.PHONY: images
images: ## Build into .kybern/images/ the offline test image docker.io/library/busybox:latest and kybern's own, $(IMAGE_REPO)/kybern-manager and kybern-node-agent:$(VERSION) (reproducible; no Docker daemon).
	go run ./hack/images -out "$(STATE_DIR)/images/busybox.tar"
	go run ./hack/componentimage -component manager -repo "$(IMAGE_REPO)/kybern-manager" -version "$(VERSION)" -revision "$(REVISION)" -out "$(STATE_DIR)/images/kybern-manager.tar"
	go run ./hack/componentimage -component node-agent -repo "$(IMAGE_REPO)/kybern-node-agent" -version "$(VERSION)" -revision "$(REVISION)" -out "$(STATE_DIR)/images/kybern-node-agent.tar"

.PHONY: images-push
images-push: ## Push kybern's images to REGISTRY (make images-push REGISTRY=ghcr.io/you), with the credentials of ~/.docker/config.json.
	@if [ -z "$(REGISTRY)" ]; then echo "images-push: name the registry and path to push to: make images-push REGISTRY=ghcr.io/<you>" >&2; exit 1; fi
	go run ./hack/componentimage -component manager -repo "$(REGISTRY)/kybern-manager" -version "$(VERSION)" -revision "$(REVISION)" -push
	go run ./hack/componentimage -component node-agent -repo "$(REGISTRY)/kybern-node-agent" -version "$(VERSION)" -revision "$(REVISION)" -push

.PHONY: envtest
envtest: ## Install or build kube-apiserver, etcd and kubectl for envtest (cached outside the clone).
	@hack/setup-envtest.sh >/dev/null

.PHONY: envtest-up
envtest-up: envtest $(CONTROLPLANE) ## Start the local control plane in the background (data kept in .kybern/).
	@KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" $(CONTROLPLANE) --dir "$(STATE_DIR)" up

.PHONY: envtest-down
envtest-down: $(CONTROLPLANE) ## Stop the local control plane, keeping its data.
	@$(CONTROLPLANE) --dir "$(STATE_DIR)" down

.PHONY: install
install: manifests envtest $(if $(LOCAL_CLUSTER),envtest-up) ## Install the CRDs, the node Lease namespace, the node agents' RBAC and admission policy into the KUBECONFIG cluster, else the local control plane.
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" apply --server-side --force-conflicts --field-manager=kybern-install -f config/crd/bases
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" wait --for condition=Established --timeout=120s -f config/crd/bases
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" apply --server-side --field-manager=kybern-install -f config/cluster -f config/rbac/node-agent

.PHONY: uninstall
uninstall: envtest $(if $(LOCAL_CLUSTER),envtest-up) ## Remove the CRDs, and every object of their kinds, and the manager's admission webhook registration from the cluster install targets.
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" delete --ignore-not-found validatingwebhookconfiguration,mutatingwebhookconfiguration kybern-admission
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" delete --ignore-not-found -f config/crd/bases

.PHONY: $(CONTROLPLANE)
$(CONTROLPLANE):
	go build -o $(CONTROLPLANE) ./hack/controlplane

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

.PHONY: helm
helm: $(HELM) ## Build Helm from Go modules into bin/ (pinned, no download).
$(HELM):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/helm $(HELM)

.PHONY: helm-lint
helm-lint: helm ## Lint the chart strictly, with its defaults and every values example in charts/kybern/ci/.
	$(HELM) lint --strict --namespace kybern-system charts/kybern
	for f in charts/kybern/ci/*.yaml; do $(HELM) lint --strict --namespace kybern-system charts/kybern -f "$$f"; done

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint from Go modules into bin/.
$(GOLANGCI_LINT):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $(GOLANGCI_LINT)
