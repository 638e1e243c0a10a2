#!/usr/bin/env bash
# Runs the upstream Gateway API conformance suite against Legate on a kind
# cluster: creates the cluster, builds and loads the image, installs the
# Gateway API CRDs (experimental channel, the version in go.mod) and the
# Helm chart, gives LoadBalancer Services addresses with cloud-provider-kind,
# runs the suite (conformance/, TestGatewayAPI with
# LEGATE_CONFORMANCE_KUBECONFIG) and deletes the cluster, even on failure.
#
# Needs: docker or podman, kind, kubectl, helm, cloud-provider-kind (on PATH,
# or set CLOUD_PROVIDER_KIND), Go. Knobs: KIND_CLUSTER (default
# legate-conformance), KEEP_CLUSTER=1 (do not delete it), and the
# LEGATE_CONFORMANCE_* variables of conformance/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-legate-conformance}"
IMAGE="${IMAGE:-legateproxy/legate}"
VERSION="${VERSION:-conformance}"
CPK="${CLOUD_PROVIDER_KIND:-cloud-provider-kind}"
WORK="$(mktemp -d)"
KUBECONFIG_FILE="$WORK/kubeconfig"

for tool in kind kubectl helm "$CPK" go; do
  command -v "$tool" >/dev/null || { echo "conformance-kind: $tool not found" >&2; exit 1; }
done
ENGINE="${CONTAINER_ENGINE:-$(command -v docker || command -v podman || true)}"
[[ -n "$ENGINE" ]] || { echo "conformance-kind: no container engine (docker or podman)" >&2; exit 1; }

cpk_pid=""
cleanup() {
  [[ -n "$cpk_pid" ]] && kill "$cpk_pid" 2>/dev/null || true
  if [[ "${KEEP_CLUSTER:-}" != 1 ]]; then
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" --wait 120s
export KUBECONFIG="$KUBECONFIG_FILE"

# cloud-provider-kind gives LoadBalancer Services an address reachable from
# this machine; it runs until the cleanup stops it.
"$CPK" >"$WORK/cloud-provider-kind.log" 2>&1 &
cpk_pid=$!

make -C "$ROOT" image IMAGE="$IMAGE" VERSION="$VERSION" CONTAINER_ENGINE="$ENGINE"
kind load docker-image --name "$CLUSTER" "$IMAGE:$VERSION"

GWAPI="$(cd "$ROOT" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)"
kubectl apply --server-side -f "$GWAPI/config/crd/experimental"

# One replica: the suite reads status right after each change, and a
# single writer keeps that simple. The Service's LoadBalancer address is
# the status address of Ingresses and Gateways.
helm install legate "$ROOT/charts/legate" --namespace legate-system --create-namespace \
  --set image.repository="$IMAGE" --set image.tag="$VERSION" --set image.pullPolicy=Never \
  --set replicaCount=1 --set podDisruptionBudget.enabled=false --wait --timeout 5m

echo "waiting for the LoadBalancer address of the legate Service"
lb=""
for _ in $(seq 120); do
  lb="$(kubectl -n legate-system get svc legate -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)"
  [[ -n "$lb" ]] && break
  sleep 1
done
[[ -n "$lb" ]] || { echo "conformance-kind: the legate Service got no LoadBalancer address" >&2; exit 1; }
helm upgrade legate "$ROOT/charts/legate" --namespace legate-system --reuse-values \
  --set "ingress.statusAddresses={$lb}" --set "extraArgs={--status-address=$lb}" --wait --timeout 5m

cd "$ROOT/conformance"
LEGATE_CONFORMANCE_KUBECONFIG="$KUBECONFIG_FILE" \
  go test -count=1 -timeout 60m -run '^TestGatewayAPI$' -v . 2>&1 | tee "$ROOT/.conformance-kind.log" |
  sed -n '/^conformance report /,/^end of report/p'
