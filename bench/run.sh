#!/usr/bin/env bash
# Legate's end-to-end benchmark: builds legate, runs the pipeline's Go
# benchmarks (for allocations per route), then measures `legate translate`
# and `legate serve` on generated workloads and prints one Markdown table on
# stdout (progress goes to stderr).
#
#   bench/run.sh                       # N = 1k and 10k
#   LEGATE_BENCH_LARGE=1 bench/run.sh  # N = 1k, 10k and 50k
#
# Knobs: SIZES (comma-separated route counts), SHAPES (ingress, gateway,
# mapping, mixed), PROVIDERS (where serve reads the workload: file,
# kubernetes; default both; the kubernetes rows are of the gateway shape up
# to N = 10k, in a real kube-apiserver and etcd built by hack/build-kube.sh),
# EDITS (edits per serve series, default 50), RUNS (translate runs, default
# 3), BUDGET (time limit per edit series, default 90s), BENCHTIME (go test
# -benchtime, default 3x), WORK (keep workloads and serve logs in this
# folder instead of a temporary one), PLOT (where to draw the PNG plot of
# the results against N, default bench/results.png). The gateway shape is
# also measured with a real Envoy (pinned by hack/install-envoy.sh): route
# edits until Envoy serves them, and Envoy's own update_duration histograms.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

sizes=${SIZES:-1000,10000}
if [[ -z ${SIZES:-} && ${LEGATE_BENCH_LARGE:-} == 1 ]]; then
	sizes+=",50000"
fi
if [[ -n ${WORK:-} ]]; then
	work=$WORK
	mkdir -p "$work"
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi

echo "building legate" >&2
$GO build -o "$work/legate" ./cmd/legate

echo "running BenchmarkPipeline" >&2
# Benchmark output goes to stderr so that stdout is the table alone.
$GO test -run '^$' -bench '^BenchmarkPipeline$' -benchtime "${BENCHTIME:-3x}" ./pipeline | tee "$work/bench.txt" >&2

providers=${PROVIDERS:-file,kubernetes}
if [[ $providers == *kubernetes* && -z ${KUBEBUILDER_ASSETS:-} ]]; then
	KUBEBUILDER_ASSETS=$(./hack/build-kube.sh)
	export KUBEBUILDER_ASSETS
fi

echo "running the end-to-end benchmark (sizes $sizes, providers $providers)" >&2
$GO run ./bench/e2e -legate "$work/legate" -work "$work" -sizes "$sizes" -providers "$providers" \
	-shapes "${SHAPES:-ingress,gateway,mapping}" -edits "${EDITS:-50}" -runs "${RUNS:-3}" \
	-budget "${BUDGET:-90s}" -benchfile "$work/bench.txt" -plot "${PLOT:-bench/results.png}" \
	-envoy "$(./hack/install-envoy.sh)"

# The same edits seen by a state-of-the-world client (an Envoy bootstrapped
# with --xds-protocol sotw): every resource of a changed type is sent, so
# an EndpointSlice edit at 10k Services sends 10k load assignments. Gateway
# shape, file provider; set SOTW=0 to skip.
if [[ ${SOTW:-1} == 1 ]]; then
	echo "running the end-to-end benchmark with a state-of-the-world xDS client (sizes $sizes)" >&2
	echo
	$GO run ./bench/e2e -legate "$work/legate" -work "$work" -sizes "$sizes" -providers file \
		-shapes gateway -edits "${EDITS:-50}" -runs 1 -budget "${BUDGET:-90s}" -delta=false
fi
