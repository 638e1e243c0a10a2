package gatewayapi_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/internal/golden"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
	"github.com/legateproxy/legate/translators/ir"
)

// allTranslators is the registry `legate serve` runs, in its order.
func allTranslators() *translators.Registry {
	return translators.NewRegistry(ingress.New(), gatewayapi.New(), emissary.New(emissary.Options{}))
}

// sharedOutput is what a testdata/shared case's .out.yaml holds: the
// merged IR of every translator, every object's status, and the Envoy
// resources (Secrets redacted).
type sharedOutput struct {
	IR       *ir.Config                  `json:"ir"`
	Statuses []*translators.ObjectStatus `json:"statuses"`
	XDS      any                         `json:"xds"`
}

// TestSharedListenerGolden runs the cases of testdata/shared, which mix
// Ingresses, Gateway API objects and Emissary resources on Legate's
// shared listeners, through all three translators, the merge and the xDS
// stage (with its deep validation).
func TestSharedListenerGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/shared/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Fatal("no cases in testdata/shared")
	}
	reg := allTranslators()
	dec := golden.Decoder(func(s *runtime.Scheme) error {
		for _, tr := range reg.Translators() {
			if err := tr.AddToScheme(s); err != nil {
				return err
			}
		}
		return nil
	})
	for _, inPath := range ins {
		name := strings.TrimSuffix(filepath.Base(inPath), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatal(err)
			}
			run := func() []byte {
				objs, err := golden.DecodeObjects(dec, data)
				if err != nil {
					t.Fatal(err)
				}
				in := inputsOf(objs)
				s := caseSettings(data)
				res := allTranslators().Translate(in, s)
				for _, e := range res.IR.Validate() {
					t.Errorf("merged IR does not validate: %v", e)
				}
				out, err := (&pipeline.Pipeline{Registry: allTranslators(), Settings: s}).Run(in)
				if err != nil {
					t.Fatalf("the Envoy resources fail deep validation: %v", err)
				}
				x, err := out.Resources.RenderYAML(true)
				if err != nil {
					t.Fatal(err)
				}
				var xds any
				if err := yaml.Unmarshal(x, &xds); err != nil {
					t.Fatal(err)
				}
				b, err := yaml.Marshal(sharedOutput{IR: res.IR, Statuses: res.Statuses, XDS: xds})
				if err != nil {
					t.Fatal(fmt.Errorf("rendering the output: %w", err))
				}
				return b
			}
			got, again := run(), run()
			if !bytes.Equal(got, again) {
				t.Errorf("two translations of the same inputs differ")
			}
			golden.Check(t, filepath.Join("testdata", "shared", name+".out.yaml"), got, *update)
		})
	}
}
