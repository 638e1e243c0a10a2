package server

import (
	"bytes"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
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
	e := newEncoded(nil, c)
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
