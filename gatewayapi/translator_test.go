package gatewayapi_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/internal/golden"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.out.yaml files")

// decoder decodes the kinds the translator declares.
var decoder = golden.Decoder(gatewayapi.New().AddToScheme)

// decodeObjects reads multi-document YAML into objects.
func decodeObjects(data []byte) ([]client.Object, error) {
	return golden.DecodeObjects(decoder, data)
}

func inputsOf(objs []client.Object) *translators.Inputs {
	in := &translators.Inputs{}
	for _, o := range objs {
		_ = in.Add(o) // every kind has a place (Others at worst)
	}
	in.Sort()
	return in
}

func testSettings() translators.Settings {
	s := translators.DefaultSettings()
	s.StatusAddresses = []string{"192.0.2.10", "gw.example.net"}
	return s
}

// golden is what a .out.yaml holds: the IR the registry produces, the
// Gateway API status, and the registry's object statuses (problems for
// events, and what the merge reported).
type goldenOutput struct {
	IR            *ir.Config                 `json:"ir"`
	GatewayStatus *gatewayapi.Status         `json:"gatewayStatus"`
	Statuses      []translators.ObjectStatus `json:"statuses"`
}

// translateAll runs the translator alone and through the registry, and
// fails t if either output does not validate or the registry had to
// change anything (merge conflicts or pruning show up as problems the
// translator itself did not report).
func translateAll(t testing.TB, in *translators.Inputs) goldenOutput {
	t.Helper()
	res := gatewayapi.Translate(in, testSettings())
	for _, e := range res.IR.Validate() {
		t.Errorf("fragment does not validate: %v", e)
	}
	reg := translators.NewRegistry(gatewayapi.New()).Translate(in, testSettings())
	for _, e := range reg.IR.Validate() {
		t.Errorf("registry result does not validate: %v", e)
	}
	return goldenOutput{IR: reg.IR, GatewayStatus: res.Status, Statuses: reg.Statuses}
}

func loadCase(t testing.TB, path string) *translators.Inputs {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	return inputsOf(objs)
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
			in := loadCase(t, inPath)
			got, err := yaml.Marshal(translateAll(t, in))
			if err != nil {
				t.Fatal(err)
			}
			again, err := yaml.Marshal(translateAll(t, loadCase(t, inPath)))
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
