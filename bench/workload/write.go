package workload

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// WriteDir writes the workload into dir as YAML manifests of at most per
// objects each, named workload-0000.yaml and up, and returns their paths.
// Workload files of an earlier run are removed first, so that a smaller
// workload does not inherit a larger one's tail.
func WriteDir(shape Shape, n int, dir string, per int) ([]string, error) {
	if dir == "" {
		return nil, fmt.Errorf("no output folder")
	}
	if per < 1 {
		return nil, fmt.Errorf("%d objects per file: want at least 1", per)
	}
	objs, err := Objects(shape, n)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "workload-*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return nil, fmt.Errorf("removing stale %s: %w", f, err)
		}
	}
	var paths []string
	for file, start := 0, 0; start < len(objs); file, start = file+1, start+per {
		b, err := Render(objs[start:min(start+per, len(objs))])
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, fmt.Sprintf("workload-%04d.yaml", file))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// Render writes objects as one multi-document YAML stream.
func Render(objs []client.Object) ([]byte, error) {
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
