// Package xds turns the IR into Envoy resources: one file per Envoy concept
// (listener.go, route.go, cluster.go, endpoint.go, secret.go), a deep
// validator (validate.go) that every resource passes before it is
// published, and the Envoy bootstrap (bootstrap.go). Envoy knowledge lives
// only here and in xds/server.
package xds

import (
	"encoding/json"
	"errors"
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// Resources is one complete set of Envoy resources for a data-plane group,
// each list sorted by resource name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	Secrets   []*tlsv3.Secret

	// versions are recorded by a successful Validate.
	versions *Versions
}

// Versions are the content versions of every resource of one Resources,
// by resource name (a ClusterLoadAssignment by its cluster name) per type:
// the same content always has the same version, and different content
// (in practice) a different one.
type Versions struct {
	Listeners, Routes, Clusters, Endpoints, Secrets map[string]string
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
	return yaml.JSONToYAML(j)
}

// RedactedPEM replaces key and certificate bytes in RenderYAML output.
const RedactedPEM = "<redacted>"

// RenderYAML renders the resources as one YAML document with a list per
// resource type, for people and golden files. With redact set, the inline
// bytes of Secrets (private keys among them) are replaced by RedactedPEM.
func (r *Resources) RenderYAML(redact bool) ([]byte, error) {
	doc := map[string][]json.RawMessage{}
	add := func(kind string, m proto.Message) error {
		j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
		if err != nil {
			return fmt.Errorf("marshalling %s: %w", kind, err)
		}
		doc[kind] = append(doc[kind], j)
		return nil
	}
	var errs []error
	for _, m := range r.Listeners {
		errs = append(errs, add("listeners", m))
	}
	for _, m := range r.Routes {
		errs = append(errs, add("routes", m))
	}
	for _, m := range r.Clusters {
		errs = append(errs, add("clusters", m))
	}
	for _, m := range r.Endpoints {
		errs = append(errs, add("endpoints", m))
	}
	for _, m := range r.Secrets {
		if redact {
			m = redactSecret(m)
		}
		errs = append(errs, add("secrets", m))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("rendering resources: %w", err)
	}
	return yaml.JSONToYAML(j)
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
