package xds

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"

	"github.com/legateproxy/legate/translators/ir"
)

// decodedEndpoints decodes load assignments for a test, panicking on one
// that does not decode (none of a successful build's can fail).
func decodedEndpoints(as []*LoadAssignment) []*endpointv3.ClusterLoadAssignment {
	out := make([]*endpointv3.ClusterLoadAssignment, len(as))
	for i, a := range as {
		cla, err := a.Message()
		if err != nil {
			panic(err)
		}
		out[i] = cla
	}
	return out
}

// checkKept fails unless a holds exactly want: the encoding is want's
// deterministic one, the decoded message equals want, and version (the
// one validation recorded, which delta xDS compares) is that encoding's.
func checkKept(t *testing.T, a *LoadAssignment, want *endpointv3.ClusterLoadAssignment, version string) {
	t.Helper()
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Encoding()
	if err != nil || !bytes.Equal(got, wire) {
		t.Fatalf("%s: kept encoding is not the built assignment's (err %v)", want.GetClusterName(), err)
	}
	cla, err := a.Message()
	if err != nil || !proto.Equal(cla, want) {
		t.Fatalf("%s: decoded %v, built %v (err %v)", want.GetClusterName(), cla, want, err)
	}
	sum := sha256.Sum256(wire)
	if version != hex.EncodeToString(sum[:]) {
		t.Fatalf("%s: version %q is not that of the built assignment's encoding", want.GetClusterName(), version)
	}
	// The decoded message is the caller's: changing it changes nothing
	// kept.
	cla.ClusterName = "changed"
	if again, _ := a.Encoding(); !bytes.Equal(again, wire) || a.GetClusterName() != want.GetClusterName() {
		t.Fatalf("%s: changing a decoded message changed the kept assignment", want.GetClusterName())
	}
}

// What Resources keep of a load assignment is, for every build golden
// case, the very assignment Build makes from the IR cluster, and what
// validation versions is its encoding.
func TestLoadAssignmentsKeepTheBuiltAssignment(t *testing.T) {
	seen := 0
	for _, name := range goldenCases(t) {
		cfg := loadCase(t, name)
		res, err := Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(res); err != nil {
			t.Fatal(err)
		}
		kept := map[string]*LoadAssignment{}
		for _, a := range res.Endpoints {
			kept[a.GetClusterName()] = a
		}
		for _, c := range cfg.Clusters {
			if c.Kind != ir.ClusterEDS {
				continue
			}
			seen++
			v, _ := res.Versions().Endpoints.Get(c.Name)
			checkKept(t, kept[c.Name], buildLoadAssignment(c.Name, c.Endpoints), v)
		}
	}
	if seen < 5 {
		t.Fatalf("only %d EDS clusters in the golden cases; the check would prove little", seen)
	}
}

// The endpoint fast path keeps the new assignment, with its version, and
// leaves the others as they were.
func TestWithEndpointsKeepsTheNewAssignment(t *testing.T) {
	cfg := loadCase(t, "clusters")
	var val Validator
	res, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Validate(res); err != nil {
		t.Fatal(err)
	}
	var edited ir.Cluster
	for _, c := range cfg.Clusters {
		if c.Kind == ir.ClusterEDS {
			edited = *c
			break
		}
	}
	edited.Endpoints = []ir.Endpoint{{Address: "10.9.9.9", Port: 9090, Ready: true}, {Address: "10.9.9.8", Port: 9090, Ready: true}}
	out, err := val.WithEndpoints(res, []*ir.Cluster{&edited})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range out.Endpoints {
		v, _ := out.Versions().Endpoints.Get(a.GetClusterName())
		if a.GetClusterName() == edited.Name {
			checkKept(t, a, buildLoadAssignment(edited.Name, edited.Endpoints), v)
			continue
		}
		if a != res.Endpoints[i] {
			t.Fatalf("%s: an assignment that did not change was replaced", a.GetClusterName())
		}
	}
}

// An assignment that cannot be encoded (an address that is not UTF-8) is
// reported by validation, as any resource that cannot be encoded is.
func TestUnencodableLoadAssignmentFailsValidation(t *testing.T) {
	res, err := Build(&ir.Config{Clusters: []*ir.Cluster{{
		Name: "bad", Kind: ir.ClusterEDS, Endpoints: []ir.Endpoint{{Address: "10.0.0.\xff", Port: 80, Ready: true}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(res)
	if err == nil || !strings.Contains(err.Error(), `ClusterLoadAssignment "bad": cannot be encoded`) {
		t.Fatalf("validation error %v, want one saying the assignment cannot be encoded", err)
	}
	if _, err := res.Endpoints[0].Encoding(); err == nil {
		t.Fatal("an assignment that could not be encoded has an encoding")
	}
	if cla, err := res.Endpoints[0].Message(); err != nil || cla.GetClusterName() != "bad" {
		t.Fatalf("an assignment that could not be encoded reads as %v (err %v)", cla, err)
	}
}
