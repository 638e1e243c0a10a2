package main

import (
	"bytes"
	"fmt"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// routeTable is what the benchmark's ADS client keeps of one route
// configuration: per virtual host, its encoding and the two things the
// edit conditions read (how many routes it has, and their path
// prefixes). Every route edit re-sends the whole table of the port
// (3.3 MB at 10k routes); decoding all of it into messages cost the
// client ~50 ms of CPU and ~20 MB of garbage per edit, on the same two
// cores as the control plane it measures, so that the next edit was
// measured while the client's decoding and collections ran. Only the
// virtual hosts whose encoding changed are decoded. (The arrival time
// of a response is taken before any of this.)
type routeTable struct {
	hosts []hostSummary
	// decoded counts the virtual hosts decoded so far (for the tests).
	decoded int
}

// hostSummary is one virtual host of a routeTable.
type hostSummary struct {
	// raw is the host's encoding, a slice of the newest response (so that
	// older responses are not kept alive by it).
	raw      []byte
	routes   int
	prefixes []string
}

// updated returns a new table for the route configuration encoded in b,
// made from t (nil: none held). Conditions read the held tables under the
// client's lock while a response is read without it, so the held one is
// left as it is.
func (t *routeTable) updated(b []byte) (*routeTable, error) {
	next := &routeTable{}
	if t != nil {
		next.hosts, next.decoded = t.hosts, t.decoded
	}
	if err := next.update(b); err != nil {
		return nil, err
	}
	return next, nil
}

// virtualHostsField is RouteConfiguration.virtual_hosts's field number.
var virtualHostsField = (&routev3.RouteConfiguration{}).ProtoReflect().Descriptor().Fields().ByName("virtual_hosts").Number()

// update replaces the table with the route configuration encoded in b.
// Hosts are matched to the last table's by position: an edit changes a
// host in place, and a host that moved is merely decoded again.
func (t *routeTable) update(b []byte) error {
	var hosts []hostSummary
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("route configuration: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num != virtualHostsField || typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return fmt.Errorf("route configuration field %d: %w", num, protowire.ParseError(m))
			}
			b = b[m:]
			continue
		}
		raw, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return fmt.Errorf("route configuration virtual host %d: %w", len(hosts), protowire.ParseError(m))
		}
		b = b[m:]
		i := len(hosts)
		if i < len(t.hosts) && bytes.Equal(t.hosts[i].raw, raw) {
			h := t.hosts[i]
			h.raw = raw
			hosts = append(hosts, h)
			continue
		}
		h, err := summarize(raw)
		if err != nil {
			return fmt.Errorf("route configuration virtual host %d: %w", i, err)
		}
		t.decoded++
		hosts = append(hosts, h)
	}
	t.hosts = hosts
	return nil
}

// summarize decodes one virtual host.
func summarize(raw []byte) (hostSummary, error) {
	var vh routev3.VirtualHost
	if err := proto.Unmarshal(raw, &vh); err != nil {
		return hostSummary{}, err
	}
	h := hostSummary{raw: raw, routes: len(vh.Routes)}
	for _, r := range vh.Routes {
		m := r.GetMatch()
		if p := m.GetPrefix(); p != "" {
			h.prefixes = append(h.prefixes, p)
		}
		if p := m.GetPathSeparatedPrefix(); p != "" {
			h.prefixes = append(h.prefixes, p)
		}
	}
	return h, nil
}

// routeCount is the number of routes of the table.
func (t *routeTable) routeCount() int {
	n := 0
	for _, h := range t.hosts {
		n += h.routes
	}
	return n
}

// hasPrefix says whether some route of the table matches on path prefix p
// (plain or path-separated).
func (t *routeTable) hasPrefix(p string) bool {
	for _, h := range t.hosts {
		for _, q := range h.prefixes {
			if q == p {
				return true
			}
		}
	}
	return false
}

// nameField is RouteConfiguration.name's field number.
var nameField = (&routev3.RouteConfiguration{}).ProtoReflect().Descriptor().Fields().ByName("name").Number()

// configName reads the name of the route configuration encoded in b
// without decoding the rest.
func configName(b []byte) (string, error) {
	name := ""
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", fmt.Errorf("route configuration: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == nameField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return "", fmt.Errorf("route configuration name: %w", protowire.ParseError(m))
			}
			// The last occurrence of a field wins, as in a decoder.
			name, b = string(v), b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return "", fmt.Errorf("route configuration field %d: %w", num, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return name, nil
}
