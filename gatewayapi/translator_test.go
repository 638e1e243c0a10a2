package gatewayapi_test

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/internal/golden"
	"github.com/legateproxy/legate/pipeline"
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

// caseSettings are the settings of a golden case: testSettings, changed by
// lines of the input of the form "# settings: key=value". The keys are
// gatewayAddressPool (a CIDR) and listenAddress.
func caseSettings(data []byte) translators.Settings {
	s := testSettings()
	for _, line := range strings.Split(string(data), "\n") {
		kv, ok := strings.CutPrefix(strings.TrimSpace(line), "# settings: ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "gatewayAddressPool":
			if p, err := netip.ParsePrefix(v); err == nil {
				s.GatewayAddressPool = p
			}
		case "listenAddress":
			s.ListenAddress = v
		}
	}
	return s
}

// golden is what a .out.yaml holds: the IR the registry produces, the
// Gateway API status, and the registry's object statuses (problems for
// events, and what the merge reported).
type goldenOutput struct {
	IR            *ir.Config                  `json:"ir"`
	GatewayStatus *gatewayapi.Status          `json:"gatewayStatus"`
	Statuses      []*translators.ObjectStatus `json:"statuses"`
}

// translateAll runs the translator alone and through the registry, and
// fails t if either output does not validate or the registry had to
// change anything (merge conflicts or pruning show up as problems the
// translator itself did not report).
func translateAll(t testing.TB, in *translators.Inputs, s translators.Settings) goldenOutput {
	t.Helper()
	res := gatewayapi.Translate(in, s)
	for _, e := range res.IR.Validate() {
		t.Errorf("fragment does not validate: %v", e)
	}
	reg := translators.NewRegistry(gatewayapi.New()).Translate(in, s)
	for _, e := range reg.IR.Validate() {
		t.Errorf("registry result does not validate: %v", e)
	}
	// The Envoy resources built from it must pass the deep xDS validation.
	pipe := &pipeline.Pipeline{Registry: translators.NewRegistry(gatewayapi.New()), Settings: s}
	if _, err := pipe.Run(in); err != nil {
		t.Errorf("Envoy snapshot does not validate: %v", err)
	}
	return goldenOutput{IR: reg.IR, GatewayStatus: res.Status, Statuses: reg.Statuses}
}

func loadCase(t testing.TB, path string) (*translators.Inputs, translators.Settings) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	return inputsOf(objs), caseSettings(data)
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
			in, s := loadCase(t, inPath)
			got, err := yaml.Marshal(translateAll(t, in, s))
			if err != nil {
				t.Fatal(err)
			}
			in2, s2 := loadCase(t, inPath)
			again, err := yaml.Marshal(translateAll(t, in2, s2))
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
