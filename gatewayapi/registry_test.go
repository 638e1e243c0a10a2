package gatewayapi_test

import (
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/translators"
)

// TestClustersAgreeWithIngress runs the Ingress and Gateway API
// translators together on objects that name the same Service ports (one
// plain, one h2c, one ExternalName, with endpoints spread over slices).
// The merge requires clusters of one name to be identical: any difference
// in how the two build a Service cluster shows up as a Conflict problem.
func TestClustersAgreeWithIngress(t *testing.T) {
	reg := translators.NewRegistry(ingress.New(), gatewayapi.New())
	scheme, err := reg.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/shared-services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme).UniversalDeserializer()
	in := &translators.Inputs{}
	for i, doc := range strings.Split(string(data), "\n---\n") {
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if err := in.Add(obj.(client.Object)); err != nil {
			t.Fatal(err)
		}
	}
	in.Sort()
	res := reg.Translate(in, testSettings())
	for _, e := range res.IR.Validate() {
		t.Errorf("merged IR does not validate: %v", e)
	}
	for _, st := range res.Statuses {
		for _, p := range st.Problems {
			t.Errorf("%s: %s: %s", st.Object, p.Reason, p.Message)
		}
	}
	want := map[string]bool{"default/web/80": true, "default/grpc/9000": true, "default/external/443": true}
	for _, c := range res.IR.Clusters {
		delete(want, c.Name)
		if c.Name == "default/web/80" && len(c.Endpoints) != 3 {
			t.Errorf("cluster %s has endpoints %+v, want 3", c.Name, c.Endpoints)
		}
	}
	if len(want) > 0 {
		t.Errorf("clusters missing from the merged IR: %v", want)
	}
	if len(res.IR.Listeners) != 2 {
		t.Errorf("got %d listeners, want the Ingress HTTP listener and the Gateway's", len(res.IR.Listeners))
	}
}
