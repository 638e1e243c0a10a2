package gatewayapi_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
)

// FuzzTranslate feeds the translator YAML document streams, seeded with
// every golden input. Whatever it is given (documents the decoder rejects
// are skipped, so mutations of field values reach the translator), it must
// not panic, its fragment and the registry's result must pass Validate,
// two translations of the same inputs must agree, and the Envoy snapshot
// the pipeline builds from them must pass the deep xDS validation. (This
// external test package may import the pipeline; the gatewayapi package
// itself never imports xds.)
func FuzzTranslate(f *testing.F) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range ins {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 1<<16 {
			t.Skip("input too large to be interesting")
		}
		objs, _ := decodeObjects(doc)
		build := func() *translators.Inputs { return inputsOf(objs) }
		settings := caseSettings(doc)

		r1 := gatewayapi.Translate(build(), settings)
		for _, e := range r1.IR.Validate() {
			t.Errorf("fragment does not validate: %v", e)
		}
		r2 := gatewayapi.Translate(build(), settings)
		if !reflect.DeepEqual(r1, r2) {
			t.Errorf("two translations of the same inputs differ")
		}
		res := translators.NewRegistry(gatewayapi.New()).Translate(build(), settings)
		for _, e := range res.IR.Validate() {
			t.Errorf("registry result does not validate: %v", e)
		}
		pipe := &pipeline.Pipeline{Registry: translators.NewRegistry(gatewayapi.New()), Settings: settings}
		if _, err := pipe.Run(build()); err != nil {
			t.Errorf("snapshot fails validation: %v", err)
		}
	})
}
