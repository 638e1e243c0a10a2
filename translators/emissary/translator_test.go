package emissary_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/internal/golden"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
	"github.com/legateproxy/legate/translators/ir"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.out.yaml files")

// decoder decodes the kinds the translator declares.
var decoder = golden.Decoder(emissary.New(emissary.Options{}).AddToScheme)

// decodeObjects reads multi-document YAML into objects.
func decodeObjects(data []byte) ([]client.Object, error) {
	return golden.DecodeObjects(decoder, data)
}

func inputsOf(objs []client.Object) *translators.Inputs {
	in := &translators.Inputs{}
	for _, o := range objs {
		_ = in.Add(o) // every non-nil object has a place
	}
	in.Sort()
	return in
}

func testSettings() translators.Settings {
	s := translators.DefaultSettings()
	s.StatusAddresses = []string{"192.0.2.10"}
	return s
}

// optionsFor lets a case choose the installation: a first line
// "# ambassador_id: blue" in the input.
func optionsFor(data []byte) emissary.Options {
	first, _, _ := strings.Cut(string(data), "\n")
	if id, ok := strings.CutPrefix(first, "# ambassador_id: "); ok {
		return emissary.Options{AmbassadorID: strings.TrimSpace(id)}
	}
	return emissary.Options{}
}

type goldenOutput struct {
	IR       *ir.Config                  `json:"ir"`
	Statuses []*translators.ObjectStatus `json:"statuses"`
}

func translateAll(t testing.TB, in *translators.Inputs, opts emissary.Options) goldenOutput {
	t.Helper()
	frag, _ := emissary.New(opts).Translate(in, testSettings())
	for _, e := range frag.Validate() {
		t.Errorf("fragment does not validate: %v", e)
	}
	res := translators.NewRegistry(emissary.New(opts)).Translate(in, testSettings())
	for _, e := range res.IR.Validate() {
		t.Errorf("registry result does not validate: %v", e)
	}
	// Every golden case must also make Envoy resources that pass the deep
	// xDS validation (every Any unpacked, regexes compiled, references
	// resolved, the checks Envoy makes on clusters).
	pipe := &pipeline.Pipeline{Registry: translators.NewRegistry(emissary.New(opts)), Settings: testSettings()}
	if _, err := pipe.Run(in); err != nil {
		t.Errorf("the Envoy resources fail deep validation: %v", err)
	}
	return goldenOutput{IR: res.IR, Statuses: res.Statuses}
}

func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) < 20 {
		t.Fatalf("found %d golden cases, want at least 20", len(ins))
	}
	for _, inPath := range ins {
		name := strings.TrimSuffix(filepath.Base(inPath), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeObjects(data)
			if err != nil {
				t.Fatal(err)
			}
			opts := optionsFor(data)
			got, err := yaml.Marshal(translateAll(t, inputsOf(objs), opts))
			if err != nil {
				t.Fatal(err)
			}
			again, err := yaml.Marshal(translateAll(t, inputsOf(objs), opts))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Errorf("two translations of the same inputs differ:\n%s\n---\n%s", got, again)
			}
			golden.Check(t, filepath.Join("testdata", name+".out.yaml"), got, *update)
		})
	}
}
