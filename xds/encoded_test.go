package xds

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"

	"github.com/legateproxy/legate/translators/ir"
)

// decodedAll decodes kept resources for a test, panicking on one that
// does not decode (none of a successful build's can fail).
func decodedAll[M proto.Message, K interface{ Message() (M, error) }](kept []K) []M {
	out := make([]M, len(kept))
	for i, k := range kept {
		m, err := k.Message()
		if err != nil {
			panic(err)
		}
		out[i] = m
	}
	return out
}

// editRoute replaces r's i-th route configuration with a copy that edit
// changed.
func editRoute(r *Resources, i int, edit func(*routev3.RouteConfiguration)) {
	m, err := r.Routes[i].Message()
	if err != nil {
		panic(err)
	}
	edit(m)
	r.Routes[i] = NewRouteConfiguration(m)
}

// editCluster replaces r's i-th cluster with a copy that edit changed.
func editCluster(r *Resources, i int, edit func(*clusterv3.Cluster)) {
	c := decodedAll(r.Clusters[i : i+1])[0]
	edit(c)
	r.Clusters[i] = NewCluster(c)
}

// checkKept fails unless k holds exactly want: the encoding is want's
// deterministic one, the decoded message equals want, and version (the
// one validation recorded, which delta xDS compares) is that encoding's.
func checkKept[M proto.Message](t *testing.T, k *Encoded[M], want M, version string) {
	t.Helper()
	if k == nil {
		t.Fatalf("nothing kept for %v", want)
	}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Encoding()
	if err != nil || !bytes.Equal(got, wire) {
		t.Fatalf("%s: kept encoding is not the built resource's (err %v)", k.GetName(), err)
	}
	m, err := k.Message()
	if err != nil || !proto.Equal(m, want) {
		t.Fatalf("%s: decoded %v, built %v (err %v)", k.GetName(), m, want, err)
	}
	sum := sha256.Sum256(wire)
	if version != hex.EncodeToString(sum[:]) {
		t.Fatalf("%s: version %q is not that of the built resource's encoding", k.GetName(), version)
	}
	// The decoded message is the caller's: changing it changes nothing
	// kept.
	proto.Reset(m)
	if again, _ := k.Encoding(); !bytes.Equal(again, wire) {
		t.Fatalf("%s: changing a decoded message changed the kept resource", k.GetName())
	}
}

// What Resources keep of a cluster and a load assignment is, for every
// build golden case, the very message Build makes from the IR cluster,
// and what validation versions is its encoding.
func TestKeptResourcesAreTheBuiltOnes(t *testing.T) {
	eds := 0
	for _, name := range goldenCases(t) {
		cfg := loadCase(t, name)
		res, err := Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(res); err != nil {
			t.Fatal(err)
		}
		clusters := map[string]*Cluster{}
		for _, c := range res.Clusters {
			clusters[c.GetName()] = c
		}
		assignments := map[string]*LoadAssignment{}
		for _, a := range res.Endpoints {
			assignments[a.GetName()] = a
		}
		for _, c := range cfg.Clusters {
			built, err := buildCluster(c)
			if err != nil {
				t.Fatal(err)
			}
			checkKept(t, clusters[c.Name], built, res.Versions().Clusters[c.Name])
			if c.Kind != ir.ClusterEDS {
				continue
			}
			eds++
			v, _ := res.Versions().Endpoints.Get(c.Name)
			checkKept(t, assignments[c.Name], buildLoadAssignment(c.Name, c.Endpoints), v)
		}
	}
	if eds < 5 {
		t.Fatalf("only %d EDS clusters in the golden cases; the check would prove little", eds)
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
		v, _ := out.Versions().Endpoints.Get(a.GetName())
		if a.GetName() == edited.Name {
			checkKept(t, a, buildLoadAssignment(edited.Name, edited.Endpoints), v)
			continue
		}
		if a != res.Endpoints[i] {
			t.Fatalf("%s: an assignment that did not change was replaced", a.GetName())
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

// A virtual host that cannot be encoded (a route path that is not UTF-8)
// fails validation naming it, through a remembering Builder and
// Validator too, and its route configuration has no encoding to serve.
func TestUnencodableVirtualHostFailsValidation(t *testing.T) {
	cfg := &ir.Config{Listeners: []*ir.Listener{{
		Name: "http", Address: "0.0.0.0", Port: 80, Protocol: ir.ProtocolHTTP,
		VirtualHosts: []*ir.VirtualHost{{Name: "bad.example", Hostnames: []string{"bad.example"}, Routes: []*ir.Route{{
			Name:           "bad",
			Match:          ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/\xff"}},
			DirectResponse: &ir.DirectResponse{StatusCode: 404},
		}}}},
	}}}
	var b Builder
	var val Validator
	for _, run := range []struct {
		name     string
		validate func(*Resources) error
		build    func(*ir.Config) (*Resources, error)
	}{{"Build and Validate", Validate, Build}, {"a Builder and a Validator", val.Validate, b.Build}} {
		res, err := run.build(cfg)
		if err != nil {
			t.Fatalf("%s: %v", run.name, err)
		}
		err = run.validate(res)
		if err == nil || !strings.Contains(err.Error(), `RouteConfiguration "http": virtual_hosts[0]: cannot be encoded`) {
			t.Fatalf("%s: validation error %v, want one saying the virtual host cannot be encoded", run.name, err)
		}
		if len(res.Routes) != 1 {
			t.Fatalf("%s: %d route configurations, want 1", run.name, len(res.Routes))
		}
		if _, err := res.Routes[0].Encoding(); err == nil {
			t.Fatalf("%s: a route configuration with a virtual host that cannot be encoded has an encoding", run.name)
		}
	}
}
