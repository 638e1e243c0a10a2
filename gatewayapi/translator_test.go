package gatewayapi_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.out.yaml files")

// decoder decodes the kinds the translator declares, with the scheme its
// AddToScheme fills.
var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	if err := gatewayapi.New().AddToScheme(s); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}()

// decodeObjects reads multi-document YAML into objects. It returns the
// objects it could decode and the first error.
func decodeObjects(data []byte) ([]client.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []client.Object
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("reading document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(withoutComments(doc))) == 0 {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			keep(fmt.Errorf("decoding document %d: %w", i, err))
			continue
		}
		co, ok := obj.(client.Object)
		if !ok {
			keep(fmt.Errorf("document %d: %T is not an object", i, obj))
			continue
		}
		out = append(out, co)
	}
	return out, firstErr
}

func withoutComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
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
type golden struct {
	IR            *ir.Config                 `json:"ir"`
	GatewayStatus *gatewayapi.Status         `json:"gatewayStatus"`
	Statuses      []translators.ObjectStatus `json:"statuses"`
}

// translateAll runs the translator alone and through the registry, and
// fails t if either output does not validate or the registry had to
// change anything (merge conflicts or pruning show up as problems the
// translator itself did not report).
func translateAll(t testing.TB, in *translators.Inputs) golden {
	t.Helper()
	res := gatewayapi.Translate(in, testSettings())
	for _, e := range res.IR.Validate() {
		t.Errorf("fragment does not validate: %v", e)
	}
	reg := translators.NewRegistry(gatewayapi.New()).Translate(in, testSettings())
	for _, e := range reg.IR.Validate() {
		t.Errorf("registry result does not validate: %v", e)
	}
	return golden{IR: reg.IR, GatewayStatus: res.Status, Statuses: reg.Statuses}
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
			outPath := filepath.Join("testdata", name+".out.yaml")
			if *update {
				if err := os.WriteFile(outPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", outPath, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
		}
		if b.Len() > 4000 {
			b.WriteString("...\n")
			break
		}
	}
	return b.String()
}
