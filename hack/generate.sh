#!/usr/bin/env bash
# Generates the deepcopy code of apis/ and the CRD YAML of the chart from the
# Go types, with the controller-gen version pinned in go.mod.
#
#   hack/generate.sh          regenerate in place
#   hack/generate.sh --check  regenerate into a temporary folder and fail,
#                             showing the difference, if the checked-in
#                             files are stale
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GO="${GO:-go}"
API_DIR=apis/getambassador.io/v3alpha1
CRD_DIR=charts/legate/crds

controller_gen() {
  "$GO" run sigs.k8s.io/controller-tools/cmd/controller-gen "$@"
}

case "${1:-}" in
"")
  controller_gen object paths=./apis/... crd paths=./apis/... output:crd:dir="$CRD_DIR"
  ;;
--check)
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  controller_gen object paths=./apis/... output:object:dir="$tmp/object" \
    crd paths=./apis/... output:crd:dir="$tmp/crds"
  status=0
  if ! diff -u "$API_DIR/zz_generated.deepcopy.go" "$tmp/object/zz_generated.deepcopy.go"; then
    status=1
  fi
  if ! diff -ru "$CRD_DIR" "$tmp/crds"; then
    status=1
  fi
  if [[ $status -ne 0 ]]; then
    echo "generate: generated files are stale; run hack/generate.sh" >&2
  fi
  exit $status
  ;;
*)
  echo "usage: $0 [--check]" >&2
  exit 2
  ;;
esac
