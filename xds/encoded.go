package xds

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
)

// Encoded is a resource as Resources hold it: its name and its
// deterministic wire encoding, which is what the xDS server sends and what
// validation hashes. Resources of the kinds there is one of per Service
// (clusters and their load assignments) are kept so: they are kept for as
// long as they are served, and as messages (a load assignment of three
// endpoints is about 1.5 KB, against some 130 bytes encoded; a cluster
// some 900 bytes, against under 100) they were the largest part of what a
// control plane of 10k Services kept at rest. The message is decoded again
// on demand, for the few that read it (validation of a new resource,
// diagnostics, YAML output).
//
// An Encoded is never modified once made; like a message, it is compared
// by identity to find what did not change between snapshots.
type Encoded[M proto.Message] struct {
	name string
	wire []byte
	// unencodable is the message when it could not be encoded (a string
	// that is not UTF-8): it is kept so that validation reports why, as it
	// would for any other resource.
	unencodable M
	err         error
}

// LoadAssignment is a ClusterLoadAssignment kept encoded, named after its
// cluster.
type LoadAssignment = Encoded[*endpointv3.ClusterLoadAssignment]

// Cluster is a Cluster kept encoded.
type Cluster = Encoded[*clusterv3.Cluster]

// NewLoadAssignment keeps cla encoded. cla is not kept (unless it cannot
// be encoded) and may be reused by the caller.
func NewLoadAssignment(cla *endpointv3.ClusterLoadAssignment) *LoadAssignment {
	return encode(cla.GetClusterName(), cla)
}

// NewCluster keeps c encoded. c is not kept (unless it cannot be encoded)
// and may be reused by the caller.
func NewCluster(c *clusterv3.Cluster) *Cluster {
	return encode(c.GetName(), c)
}

func encode[M proto.Message](name string, m M) *Encoded[M] {
	e := &Encoded[M]{name: name}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		e.unencodable, e.err = m, err
		return e
	}
	e.wire = wire
	return e
}

// GetName is the resource's name (for a load assignment, its cluster's),
// which is how xDS names it.
func (e *Encoded[M]) GetName() string { return e.name }

// Encoding returns the deterministic wire encoding of the resource (what
// proto.MarshalOptions{Deterministic: true} gives), which must not be
// modified, or the error encoding it gave.
func (e *Encoded[M]) Encoding() ([]byte, error) {
	return e.wire, e.err
}

// Message decodes the resource into a message of its own, which the
// caller may keep or modify.
func (e *Encoded[M]) Message() (M, error) {
	if e.err != nil {
		return proto.Clone(e.unencodable).(M), nil
	}
	var zero M
	m := zero.ProtoReflect().Type().New().Interface().(M)
	if err := proto.Unmarshal(e.wire, m); err != nil {
		return zero, fmt.Errorf("decoding %s %q: %w", m.ProtoReflect().Descriptor().Name(), e.name, err)
	}
	return m, nil
}
