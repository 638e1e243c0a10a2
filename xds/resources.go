// Package xds turns the IR into Envoy resources: one file per Envoy concept
// (listener.go, route.go, cluster.go, endpoint.go, secret.go), a deep
// validator (validate.go) that every resource passes before it is
// published, and the Envoy bootstrap (bootstrap.go). Envoy knowledge lives
// only here and in xds/server.
package xds

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Resources is one complete set of Envoy resources for a data-plane group,
// each list sorted by resource name.
type Resources struct {
	Listeners []*listenerv3.Listener
	// Routes, Clusters and Endpoints are kept encoded (see Encoded and
	// RouteConfiguration): there is one cluster and load assignment per
	// Service and a virtual host per hostname of a route, and few ever
	// read them as messages.
	Routes    []*RouteConfiguration
	Clusters  []*Cluster
	Endpoints []*LoadAssignment
	Secrets   []*tlsv3.Secret

	// fresh are the virtual hosts the build that made these resources
	// made anew, as the messages it encoded: the validation that follows
	// walks them rather than decoding them again (at one virtual host of
	// thousands of routes, a decode per edit), and drops them, so that
	// only the encodings stay.
	fresh map[*VirtualHost]*routev3.VirtualHost

	// versions are recorded by a successful Validate.
	versions *Versions
	// endpointIndex, if set, maps a cluster name to the position of its
	// load assignment in Endpoints (see Validator.WithEndpoints).
	endpointIndex map[string]int
}

// EncodeRoute returns the deterministic wire encoding of rc (what
// proto.MarshalOptions{Deterministic: true} gives of its message), one of
// r's route configurations: see RouteConfiguration.Encoding.
func (r *Resources) EncodeRoute(rc *RouteConfiguration) ([]byte, error) {
	return rc.Encoding()
}

// Versions are the content versions of every resource of one Resources,
// by resource name (a ClusterLoadAssignment by its cluster name) per type:
// the same content always has the same version, and different content
// (in practice) a different one. Except for route configurations (a hash
// of their parts' hashes), a version is the hex SHA-256 of the resource's
// deterministic encoding.
type Versions struct {
	Listeners, Routes, Clusters, Secrets map[string]string
	// Endpoints are a VersionMap rather than a map: the endpoint fast path
	// (Validator.WithEndpoints) replaces a few versions of thousands, and
	// copying the map for each EndpointSlice change was a third of what
	// such a change allocated.
	Endpoints *VersionMap
}

// VersionMap is a map of versions by resource name that is never modified
// once made: With makes another that shares what did not change.
type VersionMap struct {
	base map[string]string
	// patch holds the versions that replace base's, for names base has.
	patch map[string]string
}

// NewVersionMap makes a VersionMap of m, which must not be modified
// afterwards.
func NewVersionMap(m map[string]string) *VersionMap {
	return &VersionMap{base: m}
}

// Get returns the version of name, and whether there is one.
func (m *VersionMap) Get(name string) (string, bool) {
	if m == nil {
		return "", false
	}
	if v, ok := m.patch[name]; ok {
		return v, true
	}
	v, ok := m.base[name]
	return v, ok
}

// Len is the number of names.
func (m *VersionMap) Len() int {
	if m == nil {
		return 0
	}
	return len(m.base)
}

// Map returns the versions as a map, which must not be modified: the
// map m was made of when nothing was replaced since, else a new one.
func (m *VersionMap) Map() map[string]string {
	if m == nil {
		return nil
	}
	if len(m.patch) == 0 {
		return m.base
	}
	out := maps.Clone(m.base)
	maps.Copy(out, m.patch)
	return out
}

// String shows the versions as a map, names in order.
func (m *VersionMap) String() string {
	return fmt.Sprint(m.Map())
}

// With returns m with the versions of changed, all of names m has,
// replacing its own; m is not modified. The replaced versions are kept
// apart until they are a good part of the map, and then folded into a
// copy, so that a change of a few versions costs a few entries.
func (m *VersionMap) With(changed map[string]string) *VersionMap {
	if len(m.patch)+len(changed) > len(m.base)/8 {
		out := maps.Clone(m.base)
		maps.Copy(out, m.patch)
		maps.Copy(out, changed)
		return &VersionMap{base: out}
	}
	patch := make(map[string]string, len(m.patch)+len(changed))
	maps.Copy(patch, m.patch)
	maps.Copy(patch, changed)
	return &VersionMap{base: m.base, patch: patch}
}

// Versions returns the versions recorded when r last passed Validate, or
// nil if it has not. They describe r as it was then: resources must not be
// modified after they are validated.
func (r *Resources) Versions() *Versions {
	return r.versions
}

// MarshalYAML renders one message as YAML with Envoy's field names
// (snake_case), every Any expanded to its type's fields, keys sorted.
func MarshalYAML(m proto.Message) ([]byte, error) {
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshalling %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return jsonToYAML(j)
}

// RedactedPEM replaces key and certificate bytes in RenderYAML output.
const RedactedPEM = "<redacted>"

// RenderYAML renders the resources as one YAML document with a list per
// resource type, for people and golden files. With redact set, the inline
// bytes of Secrets (private keys among them) are replaced by RedactedPEM.
func (r *Resources) RenderYAML(redact bool) ([]byte, error) {
	var buf bytes.Buffer
	if err := r.WriteYAML(&buf, redact); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteYAML writes what RenderYAML returns, resource by resource: the
// document is never held as a whole (at 10k routes its YAML tree took
// hundreds of megabytes), and resources are rendered on every core.
func (r *Resources) WriteYAML(w io.Writer, redact bool) error {
	secrets := make([]proto.Message, 0, len(r.Secrets))
	for _, m := range r.Secrets {
		if redact {
			m = redactSecret(m)
		}
		secrets = append(secrets, m)
	}
	// The document is a mapping with sorted keys, so its lists come in
	// this order; an empty list is left out. Clusters and load
	// assignments, and route configurations, are decoded as they are
	// rendered, a batch at a time.
	kinds := []yamlList{
		encodedList("clusters", r.Clusters),
		encodedList("endpoints", r.Endpoints),
		messageList("listeners", asMessages(r.Listeners)),
		encodedList("routes", r.Routes),
		messageList("secrets", secrets),
	}
	bw := bufio.NewWriter(w)
	wrote := false
	for _, k := range kinds {
		if k.n == 0 {
			continue
		}
		wrote = true
		if _, err := bw.WriteString(k.name + ":\n"); err != nil {
			return fmt.Errorf("writing resources: %w", err)
		}
		// A list inside a mapping is written by the YAML encoder at the
		// mapping's indentation, so each item renders as the one item of a
		// list of its own. Batches bound what is held at once.
		const batch = 256
		for start := 0; start < k.n; start += batch {
			n := min(batch, k.n-start)
			out := make([][]byte, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			next := atomic.Int64{}
			for range min(runtime.GOMAXPROCS(0), n) {
				wg.Go(func() {
					for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
						m, err := k.item(start + i)
						if err != nil {
							errs[i] = err
							continue
						}
						out[i], errs[i] = itemYAML(m)
					}
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					return fmt.Errorf("marshalling %s: %w", k.name, errs[i])
				}
				if _, err := bw.Write(out[i]); err != nil {
					return fmt.Errorf("writing resources: %w", err)
				}
			}
		}
	}
	if !wrote {
		if _, err := bw.WriteString("{}\n"); err != nil {
			return fmt.Errorf("writing resources: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing resources: %w", err)
	}
	return nil
}

// yamlList is one list of the document WriteYAML writes: n items, each
// given by item.
type yamlList struct {
	name string
	n    int
	item func(int) (proto.Message, error)
}

// encodedList is a yamlList of encoded resources, each decoded as it is
// rendered.
func encodedList[M proto.Message, K interface{ Message() (M, error) }](name string, items []K) yamlList {
	return yamlList{name, len(items), func(i int) (proto.Message, error) { return items[i].Message() }}
}

// messageList is a yamlList of messages.
func messageList(name string, items []proto.Message) yamlList {
	return yamlList{name, len(items), func(i int) (proto.Message, error) { return items[i], nil }}
}

// itemYAML renders m as a one-item YAML list, Envoy's field names, keys
// sorted.
func itemYAML(m proto.Message) ([]byte, error) {
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	list := make([]byte, 0, len(j)+2)
	list = append(append(append(list, '['), j...), ']')
	return jsonToYAML(list)
}

func asMessages[T proto.Message](items []T) []proto.Message {
	out := make([]proto.Message, len(items))
	for i, m := range items {
		out[i] = m
	}
	return out
}

// redactSecret returns a copy of s whose inline data sources say
// RedactedPEM instead of holding key material.
func redactSecret(s *tlsv3.Secret) *tlsv3.Secret {
	out := proto.Clone(s).(*tlsv3.Secret)
	for _, ds := range []*corev3.DataSource{
		out.GetTlsCertificate().GetCertificateChain(),
		out.GetTlsCertificate().GetPrivateKey(),
		out.GetValidationContext().GetTrustedCa(),
	} {
		if ds != nil {
			ds.Specifier = &corev3.DataSource_InlineString{InlineString: RedactedPEM}
		}
	}
	return out
}
