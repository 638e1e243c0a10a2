// Package tests checks the Legate Helm chart: lint, rendering, the values
// schema, server-side dry-run of every rendered object against a real
// kube-apiserver, and that the chart's RBAC is enough, and no more than
// enough, for a real legate to sync and write status.
package tests
