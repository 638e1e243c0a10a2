package xds

import (
	"fmt"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// VirtualHost is a virtual host of a route configuration, kept encoded.
type VirtualHost = Encoded[*routev3.VirtualHost]

// NewVirtualHost keeps vh encoded. vh is not kept (unless it cannot be
// encoded) and may be reused by the caller.
func NewVirtualHost(vh *routev3.VirtualHost) *VirtualHost {
	return encode(vh.GetName(), vh)
}

// RouteConfiguration is a route configuration as Resources hold it: the
// configuration without its virtual hosts (its shell, a few fields), and
// each virtual host kept encoded. There is a virtual host per hostname
// of every route, kept for as long as it is served, and as messages (a
// tree of some fifty messages for two routes) they were the largest part
// of the xDS resources at rest; their encodings were kept besides, to put
// the configuration's encoding together without encoding unchanged hosts
// again. The encoding is now all that is kept: the whole configuration is
// assembled from it (Encoding), and decoded for the few that read it as a
// message (Message).
//
// A RouteConfiguration is never modified once made; like a message, it
// and each of its virtual hosts are compared by identity to find what did
// not change between snapshots.
type RouteConfiguration struct {
	shell  *routev3.RouteConfiguration
	vhosts []*VirtualHost
}

// NewRouteConfiguration keeps rc with its virtual hosts encoded. rc's
// virtual hosts are not kept; the rest of it is, and must not be modified
// afterwards.
func NewRouteConfiguration(rc *routev3.RouteConfiguration) *RouteConfiguration {
	vhosts := make([]*VirtualHost, len(rc.GetVirtualHosts()))
	for i, vh := range rc.GetVirtualHosts() {
		vhosts[i] = NewVirtualHost(vh)
	}
	return newRouteConfiguration(without(rc, "virtual_hosts").(*routev3.RouteConfiguration), vhosts)
}

// newRouteConfiguration keeps shell, which has no virtual hosts, with
// vhosts.
func newRouteConfiguration(shell *routev3.RouteConfiguration, vhosts []*VirtualHost) *RouteConfiguration {
	return &RouteConfiguration{shell: shell, vhosts: vhosts}
}

// GetName is the route configuration's name.
func (r *RouteConfiguration) GetName() string { return r.shell.GetName() }

// VirtualHosts are the configuration's virtual hosts, in order; the list
// must not be modified.
func (r *RouteConfiguration) VirtualHosts() []*VirtualHost { return r.vhosts }

// Message decodes the whole configuration into a message of its own,
// which the caller may keep or modify.
func (r *RouteConfiguration) Message() (*routev3.RouteConfiguration, error) {
	out := proto.Clone(r.shell).(*routev3.RouteConfiguration)
	out.VirtualHosts = make([]*routev3.VirtualHost, 0, len(r.vhosts))
	for _, k := range r.vhosts {
		vh, err := k.Message()
		if err != nil {
			return nil, fmt.Errorf("route configuration %q: %w", r.GetName(), err)
		}
		out.VirtualHosts = append(out.VirtualHosts, vh)
	}
	return out, nil
}

// Encoding returns the deterministic wire encoding of the configuration
// (what proto.MarshalOptions{Deterministic: true} gives of Message), put
// together from the kept encodings of its virtual hosts: a route
// configuration is sent whole on every change of any route in it, and at
// 10k virtual hosts encoding it took tens of milliseconds per client.
//
// A message's deterministic encoding is its fields' in field number
// order, so the virtual hosts (field 2) go between the name (field 1) and
// the rest of the shell.
func (r *RouteConfiguration) Encoding() ([]byte, error) {
	shell, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.shell)
	if err != nil {
		return nil, fmt.Errorf("encoding route configuration %q: %w", r.GetName(), err)
	}
	var name []byte
	if n := r.GetName(); n != "" {
		name = protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), n)
	}
	if len(shell) < len(name) || string(shell[:len(name)]) != string(name) {
		return nil, fmt.Errorf("encoding route configuration %q: its encoding does not start with its name", r.GetName())
	}
	size := len(shell)
	for _, vh := range r.vhosts {
		wire, err := vh.Encoding()
		if err != nil {
			return nil, fmt.Errorf("encoding route configuration %q: virtual host %q: %w", r.GetName(), vh.GetName(), err)
		}
		size += protowire.SizeTag(2) + protowire.SizeBytes(len(wire))
	}
	out := make([]byte, 0, size)
	out = append(out, name...)
	for _, vh := range r.vhosts {
		wire, _ := vh.Encoding()
		out = protowire.AppendBytes(protowire.AppendTag(out, 2, protowire.BytesType), wire)
	}
	return append(out, shell[len(name):]...), nil
}

// encodedDomains reads the domains (field 2) of a virtual host's
// encoding, skipping every other field without decoding it; nil if the
// encoding is malformed.
func encodedDomains(wire []byte) []string {
	var out []string
	for len(wire) > 0 {
		num, typ, n := protowire.ConsumeTag(wire)
		if n < 0 {
			return nil
		}
		wire = wire[n:]
		if num == 2 && typ == protowire.BytesType {
			d, n := protowire.ConsumeString(wire)
			if n < 0 {
				return nil
			}
			out = append(out, d)
			wire = wire[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, wire)
		if n < 0 {
			return nil
		}
		wire = wire[n:]
	}
	return out
}
