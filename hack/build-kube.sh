#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager (Kubernetes v1.37.2) and
# etcd (v3.7.3) from the Go module proxy into a cache folder keyed by their
# versions, and prints that folder: use it as KUBEBUILDER_ASSETS for envtest.
# Nothing prebuilt is downloaded. A cold build takes about 10 minutes on 2
# cores; when the binaries exist it returns at once.
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.37.2` is refused because
# that module replaces its staging modules with local folders, so a small
# module is generated here that requires k8s.io/kubernetes and points each
# staging module at its published v0.37.x version instead.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.7.3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${LEGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/legate}"
OUT="$TOOLS/kube-v$KUBE_VERSION-etcd-v$ETCD_VERSION"
STAGING_VERSION="v0.${KUBE_VERSION#1.}"

if [[ -x "$OUT/kube-apiserver" && -x "$OUT/kube-controller-manager" && -x "$OUT/etcd" ]]; then
  echo "$OUT"
  exit 0
fi
mkdir -p "$OUT"
WORK="$TOOLS/build/kube-v$KUBE_VERSION"
mkdir -p "$WORK/kube" "$WORK/etcd"

# Staging modules of k8s.io/kubernetes, as listed in its go.mod; the two
# sample modules are neither published nor needed.
STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
  kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver streaming)

{
  echo "module legate.local/kubebuild"
  echo
  echo "go 1.26.0"
  echo
  echo "require k8s.io/kubernetes v$KUBE_VERSION"
  echo
  echo "replace ("
  for m in "${STAGING[@]}"; do echo "	k8s.io/$m => k8s.io/$m $STAGING_VERSION"; done
  echo ")"
} > "$WORK/kube/go.mod"

cat > "$WORK/kube/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)
GO

LDFLAGS=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=${KUBE_VERSION%%.*}"
  minor="${KUBE_VERSION#*.}"; LDFLAGS+=" -X $pkg.gitMinor=${minor%%.*}"
done

(
  cd "$WORK/kube"
  export GOFLAGS=-mod=mod
  go mod tidy >&2
  go build -trimpath -ldflags "-s -w $LDFLAGS" -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
  go build -trimpath -ldflags "-s -w $LDFLAGS" -o "$OUT/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager >&2
)

cat > "$WORK/etcd/go.mod" <<GOMOD
module legate.local/etcdbuild

go 1.26.0

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
GOMOD
cat > "$WORK/etcd/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3/embed"
GO
(
  cd "$WORK/etcd"
  export GOFLAGS=-mod=mod
  go mod tidy >&2
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3 >&2
)
echo "$OUT"
