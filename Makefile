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
CONTROLPLANE ?= $(LOCALBIN)/controlplane

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
METRICS_ADDR ?= :8080
HEALTH_ADDR ?= :8081
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

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: fmt vet ## Check formatting and vet, failing on any file go fmt would change.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

.PHONY: test
test: manifests generate fmt vet envtest node-deps images ## Run every test layer: unit, envtest, control-plane and e2e tests (e2e needs root).
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" go test ./... -count=1 -timeout 30m

.PHONY: bench
bench: envtest ## Run the benchmarks.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" go test ./... -run '^$$' -bench . -benchtime 1x -timeout 60m

##@ Build

.PHONY: build
build: generate fmt vet ## Build bin/manager, bin/node-agent and its container log driver bin/kybern-log-driver.
	go build -o $(LOCALBIN)/manager .
	go build -o $(LOCALBIN)/node-agent ./node-agent
	go build -o $(LOCALBIN)/kybern-log-driver ./node-agent/logdriver

.PHONY: run
run: modules build install ## Run the local control plane (if none is up), the manager and a node agent in the foreground: as root, real containers (installing containerd and the rest with apt first); else simulated nodes. SIMULATE_NODES=N adds N simulated nodes.
	KUBECONFIG="$(TARGET_KUBECONFIG)" STATE_DIR="$(STATE_DIR)" METRICS_ADDR="$(METRICS_ADDR)" HEALTH_ADDR="$(HEALTH_ADDR)" SIMULATE_NODES="$(SIMULATE_NODES)" hack/run.sh

.PHONY: modules
modules: ## Check that every Go module is in the cache or reachable.
	@hack/check-modules.sh

##@ Local control plane

.PHONY: node-deps
node-deps: ## Install containerd, runc, iproute2 and busybox-static with apt when missing (as root).
	@hack/node-deps.sh

.PHONY: images
images: ## Build the offline test image docker.io/library/busybox:latest into .kybern/images/.
	go run ./hack/images -out "$(STATE_DIR)/images/busybox.tar"

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
install: manifests envtest $(if $(LOCAL_CLUSTER),envtest-up) ## Install the CRDs, the node Lease namespace and the node agents' admission policy into the KUBECONFIG cluster, else the local control plane.
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" apply --server-side --force-conflicts --field-manager=kybern-install -f config/crd/bases
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" wait --for condition=Established --timeout=120s -f config/crd/bases
	"$$(hack/setup-envtest.sh)/kubectl" --kubeconfig "$(TARGET_KUBECONFIG)" apply --server-side --field-manager=kybern-install -f config/cluster

.PHONY: uninstall
uninstall: envtest $(if $(LOCAL_CLUSTER),envtest-up) ## Remove the CRDs, and every object of their kinds, from the cluster install targets.
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
