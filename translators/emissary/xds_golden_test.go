package emissary_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/legateproxy/legate/internal/golden"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
)

// xdsMarker, a line of a golden input, asks for the Envoy resources too:
// they are written to <case>.xds.yaml (Secrets redacted). It is for cases
// whose point is in what Envoy gets beyond the IR, e.g. connection
// manager settings.
const xdsMarker = "# golden: xds"

// TestGoldenXDS renders the Envoy resources of the golden cases that ask
// for them and compares them with <case>.xds.yaml.
func TestGoldenXDS(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, inPath := range ins {
		data, err := os.ReadFile(inPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\n"+xdsMarker+"\n") && !strings.HasPrefix(string(data), xdsMarker+"\n") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(inPath), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			objs, err := decodeObjects(data)
			if err != nil {
				t.Fatal(err)
			}
			opts := optionsFor(data)
			pipe := &pipeline.Pipeline{Registry: translators.NewRegistry(emissary.New(opts)), Settings: testSettings()}
			out, err := pipe.Run(inputsOf(objs))
			if err != nil {
				t.Fatalf("the Envoy resources fail deep validation: %v", err)
			}
			got, err := out.Resources.RenderYAML(true)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".xds.yaml"), got, *update)
		})
	}
	if n < 3 {
		t.Fatalf("found %d golden cases marked %q, want at least 3", n, xdsMarker)
	}
}
