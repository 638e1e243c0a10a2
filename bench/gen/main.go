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
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/bench/workload"
)

func main() {
	shape := flag.String("shape", "gateway", "ingress, gateway, mapping or mixed")
	n := flag.Int("n", 1000, "number of routes")
	out := flag.String("o", "", "output folder (created; existing workload files are replaced)")
	per := flag.Int("per", 1000, "objects per file")
	flag.Parse()
	if err := run(*shape, *n, *out, *per); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(shapeName string, n int, dir string, per int) error {
	if dir == "" {
		return fmt.Errorf("-o is required")
	}
	if per < 1 {
		return fmt.Errorf("-per %d: want at least 1", per)
	}
	shape, err := workload.ParseShape(shapeName)
	if err != nil {
		return err
	}
	objs, err := workload.Objects(shape, n)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// Stale files of a larger earlier run would otherwise stay in the
	// workload.
	old, err := filepath.Glob(filepath.Join(dir, "workload-*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("removing stale %s: %w", f, err)
		}
	}
	for file, start := 0, 0; start < len(objs); file, start = file+1, start+per {
		end := min(start+per, len(objs))
		b, err := render(objs[start:end])
		if err != nil {
			return err
		}
		path := filepath.Join(dir, fmt.Sprintf("workload-%04d.yaml", file))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// render writes objects as one multi-document YAML stream.
func render(objs []client.Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("rendering %T %s: %w", o, o.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(y)
	}
	return buf.Bytes(), nil
}
