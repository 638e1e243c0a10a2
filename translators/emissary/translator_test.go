package emissary_test

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

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
	"github.com/legateproxy/legate/translators/ir"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.out.yaml files")

// decoder decodes the kinds the translator declares, with the scheme its
// AddToScheme fills.
var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	if err := emissary.New(emissary.Options{}).AddToScheme(s); err != nil {
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
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("reading document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("decoding document %d: %w", i, err)
			}
			continue
		}
		co, ok := obj.(client.Object)
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("document %d: %T is not an object", i, obj)
			}
			continue
		}
		out = append(out, co)
	}
	return out, firstErr
}

func stripComments(doc []byte) []byte {
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

type golden struct {
	IR       *ir.Config                 `json:"ir"`
	Statuses []translators.ObjectStatus `json:"statuses"`
}

func translateAll(t testing.TB, in *translators.Inputs, opts emissary.Options) golden {
	t.Helper()
	frag, _ := emissary.New(opts).Translate(in, testSettings())
	for _, e := range frag.Validate() {
		t.Errorf("fragment does not validate: %v", e)
	}
	res := translators.NewRegistry(emissary.New(opts)).Translate(in, testSettings())
	for _, e := range res.IR.Validate() {
		t.Errorf("registry result does not validate: %v", e)
	}
	return golden{IR: res.IR, Statuses: res.Statuses}
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
