package server

import (
	"bytes"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/legateproxy/legate/xds"
)

// An encoded resource marshals to the deterministic encoding of its
// message, every time the same bytes (no copy per response); appending to
// them does not write into the kept bytes; proto.Size and MarshalAppend
// onto a buffer still work.
func TestEncodedResourceMarshalsItsKeptBytes(t *testing.T) {
	c := &clusterv3.Cluster{Name: "web", ConnectTimeout: durationpb.New(2e9)}
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	e := newEncoded(c)
	first, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil || !bytes.Equal(first, want) {
		t.Fatalf("Marshal: %x, %v; want %x", first, err, want)
	}
	second, err := proto.Marshal(e)
	if err != nil || &second[0] != &first[0] {
		t.Fatalf("a second Marshal made new bytes (or failed: %v)", err)
	}
	_ = append(second, 0xff)
	if again, _ := proto.Marshal(e); !bytes.Equal(again, want) {
		t.Fatalf("an append to the marshalled bytes changed the kept ones: %x", again)
	}
	if n := proto.Size(e); n != len(want) {
		t.Fatalf("proto.Size = %d, want %d", n, len(want))
	}
	out, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend([]byte{1, 2}, e)
	if err != nil || !bytes.Equal(out, append([]byte{1, 2}, want...)) {
		t.Fatalf("MarshalAppend: %x, %v", out, err)
	}
	if e.GetName() != "web" {
		t.Fatalf("name %q", e.GetName())
	}
}

// A load assignment, which is kept encoded, is served as its kept bytes,
// and reads (by reflection: proto.Equal, JSON) as the assignment it holds,
// decoded on demand; writing into it panics.
func TestEncodedAssignmentReadsAsItsAssignment(t *testing.T) {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "web", Endpoints: []*endpointv3.LocalityLbEndpoints{{
		LoadBalancingWeight: wrapperspb.UInt32(1),
		LbEndpoints:         []*endpointv3.LbEndpoint{{LoadBalancingWeight: wrapperspb.UInt32(3)}},
	}}}
	a := xds.NewLoadAssignment(cla)
	e := newEncodedKept(a)
	kept, _ := a.Encoding()
	got, err := proto.Marshal(e)
	if err != nil || len(got) == 0 || &got[0] != &kept[0] {
		t.Fatalf("Marshal did not give the kept bytes (err %v)", err)
	}
	if !proto.Equal(e, cla) || e.GetName() != "web" {
		t.Fatalf("the wrapped assignment does not read as the assignment")
	}
	j1, err1 := protojson.Marshal(e)
	j2, err2 := protojson.Marshal(cla)
	if err1 != nil || err2 != nil || !bytes.Equal(j1, j2) {
		t.Fatalf("JSON of the wrapped assignment %s (%v), of the assignment %s (%v)", j1, err1, j2, err2)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("writing into a published assignment did not panic")
		}
	}()
	e.Clear(e.Descriptor().Fields().ByName("cluster_name"))
}
