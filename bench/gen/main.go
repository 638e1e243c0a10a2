// Command gen writes a synthetic routing workload as Kubernetes YAML
// manifests, for `legate translate -f DIR` and `legate serve --config-dir
// DIR`:
//
//	go run ./bench/gen -shape ingress|gateway|mapping|mixed -n N -o DIR
//
// The objects are those of package workload. They are split into files of
// about -per objects each (default 1000), named workload-0000.yaml and up,
// so that one edit rewrites one moderate file. Output is byte-for-byte
// deterministic for a given shape, N and -per.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/legateproxy/legate/bench/workload"
)

func main() {
	shape := flag.String("shape", "gateway", "ingress, gateway, mapping or mixed")
	n := flag.Int("n", 1000, "number of routes")
	out := flag.String("o", "", "output folder (created; existing workload-*.yaml files are replaced)")
	per := flag.Int("per", 1000, "objects per file")
	flag.Parse()
	if err := run(*shape, *n, *out, *per); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(shapeName string, n int, dir string, per int) error {
	shape, err := workload.ParseShape(shapeName)
	if err != nil {
		return err
	}
	_, err = workload.WriteDir(shape, n, dir, per)
	return err
}
