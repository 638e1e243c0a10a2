package xds

import (
	"fmt"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
)

// LoadAssignment is a ClusterLoadAssignment as Resources hold it: its
// cluster name and its deterministic wire encoding, which is what the xDS
// server sends and what validation hashes. There is one per EDS cluster
// and they are kept for as long as they are served; as messages (about
// 1.5 KB for three endpoints, against some 130 bytes encoded) they were
// the largest part of what a control plane of 10k Services kept at rest.
// The message is decoded again on demand, for the few that read it
// (validation of a new assignment, diagnostics, YAML output).
//
// A LoadAssignment is never modified once made; like a message, it is
// compared by identity to find what did not change between snapshots.
type LoadAssignment struct {
	name string
	wire []byte
	// unencodable is the message when it could not be encoded (a string
	// that is not UTF-8): it is kept so that validation reports why, as it
	// would for any other resource.
	unencodable *endpointv3.ClusterLoadAssignment
	err         error
}

// NewLoadAssignment keeps cla in encoded form. cla is not kept (unless it
// cannot be encoded) and may be reused by the caller.
func NewLoadAssignment(cla *endpointv3.ClusterLoadAssignment) *LoadAssignment {
	a := &LoadAssignment{name: cla.GetClusterName()}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(cla)
	if err != nil {
		a.unencodable, a.err = cla, err
		return a
	}
	a.wire = wire
	return a
}

// GetClusterName is the name of the cluster the assignment is for, which
// is how xDS names it.
func (a *LoadAssignment) GetClusterName() string { return a.name }

// Encoding returns the deterministic wire encoding of the assignment (what
// proto.MarshalOptions{Deterministic: true} gives), which must not be
// modified, or the error encoding it gave.
func (a *LoadAssignment) Encoding() ([]byte, error) {
	return a.wire, a.err
}

// Message decodes the assignment into a message of its own, which the
// caller may keep or modify.
func (a *LoadAssignment) Message() (*endpointv3.ClusterLoadAssignment, error) {
	if a.unencodable != nil {
		return proto.Clone(a.unencodable).(*endpointv3.ClusterLoadAssignment), nil
	}
	cla := &endpointv3.ClusterLoadAssignment{}
	if err := proto.Unmarshal(a.wire, cla); err != nil {
		return nil, fmt.Errorf("decoding load assignment %q: %w", a.name, err)
	}
	return cla, nil
}
