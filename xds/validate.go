package xds

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	udpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/udp/udp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	// Every extension that Build packs into an Any is imported by the
	// builders, which registers its type. These are registered here too so
	// that the validator can unpack them even in a binary that validates
	// resources it did not build (for example ones a test or another stage
	// assembled).
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// Validate checks res as deeply as can be done without Envoy, so that a
// snapshot Envoy would reject (NACK) is never published. It returns every
// problem found, joined, each naming the resource (type and name), the
// route where there is one (route names are IR route names, which name the
// object they came from), and the field.
//
// The checks are: protoc-gen-validate rules of every resource and of every
// message packed in a google.protobuf.Any anywhere inside it (an Any of an
// unknown type or with bytes that do not unmarshal is itself an error);
// every regex is non-empty and compiles as RE2; every reference resolves
// (RDS route configuration, route, weighted, mirror and TCP proxy
// clusters, SDS secrets, EDS assignments); weighted clusters do not all
// weigh zero; domains are unique within a route configuration; resource
// names are unique per type; listener addresses and SNI filter chain
// matches do not collide.
func Validate(res *Resources) error {
	if res == nil {
		return nil
	}
	v := &validator{
		routes:    map[string]bool{},
		clusters:  map[string]bool{},
		endpoints: map[string]bool{},
		secrets:   map[string]bool{},
	}
	for _, l := range res.Listeners {
		v.name("Listener", l.GetName(), nil)
	}
	for _, r := range res.Routes {
		v.name("RouteConfiguration", r.GetName(), v.routes)
	}
	for _, c := range res.Clusters {
		v.name("Cluster", c.GetName(), v.clusters)
	}
	for _, e := range res.Endpoints {
		v.name("ClusterLoadAssignment", e.GetClusterName(), v.endpoints)
	}
	for _, s := range res.Secrets {
		v.name("Secret", s.GetName(), v.secrets)
	}

	addresses := map[string]string{}
	for _, l := range res.Listeners {
		loc := location{kind: "Listener", name: l.GetName()}
		if sa := l.GetAddress().GetSocketAddress(); sa != nil {
			key := fmt.Sprintf("%s/%s:%d", sa.GetProtocol(), sa.GetAddress(), sa.GetPortValue())
			if other, ok := addresses[key]; ok {
				v.add(loc, "address %s is also used by listener %q", key, other)
			}
			addresses[key] = l.GetName()
		}
		v.filterChainMatches(loc, l)
		v.message(loc, l)
	}
	for _, r := range res.Routes {
		loc := location{kind: "RouteConfiguration", name: r.GetName()}
		v.domains(loc, r)
		v.routeConfiguration(loc, r)
	}
	for _, c := range res.Clusters {
		loc := location{kind: "Cluster", name: c.GetName()}
		if c.GetType() == clusterv3.Cluster_EDS {
			name := c.GetEdsClusterConfig().GetServiceName()
			if name == "" {
				name = c.GetName()
			}
			if !v.endpoints[name] {
				v.add(loc, "EDS cluster has no ClusterLoadAssignment %q", name)
			}
		}
		v.message(loc, c)
	}
	for _, e := range res.Endpoints {
		v.message(location{kind: "ClusterLoadAssignment", name: e.GetClusterName()}, e)
	}
	for _, s := range res.Secrets {
		v.message(location{kind: "Secret", name: s.GetName()}, s)
	}
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid xDS resources: %w", errors.Join(v.errs...))
}

type validator struct {
	routes, clusters, endpoints, secrets map[string]bool
	seen                                 map[string]bool
	errs                                 []error
}

// location is where in the resources a problem is.
type location struct {
	kind, name string // the resource
	route      string // the enclosing route, if any
	path       string // the field path inside the resource
}

func (l location) at(field string) location {
	if l.path != "" {
		field = l.path + "." + field
	}
	l.path = field
	return l
}

func (v *validator) add(loc location, format string, args ...any) {
	msg := fmt.Sprintf("%s %q", loc.kind, loc.name)
	if loc.route != "" {
		msg += fmt.Sprintf(": route %q", loc.route)
	}
	if loc.path != "" {
		msg += ": " + loc.path
	}
	v.errs = append(v.errs, fmt.Errorf("%s: %s", msg, fmt.Sprintf(format, args...)))
}

// name records a resource name, reporting empty and repeated names.
func (v *validator) name(kind, name string, set map[string]bool) {
	if v.seen == nil {
		v.seen = map[string]bool{}
	}
	loc := location{kind: kind, name: name}
	if name == "" {
		v.add(loc, "name is empty")
	}
	if v.seen[kind+"\x00"+name] {
		v.add(loc, "duplicate %s name", kind)
	}
	v.seen[kind+"\x00"+name] = true
	if set != nil {
		set[name] = true
	}
}

// message runs m's protoc-gen-validate rules, which do not look inside
// Any fields, then walks m for what they miss.
func (v *validator) message(loc location, m proto.Message) {
	if va, ok := m.(interface{ ValidateAll() error }); ok {
		if err := va.ValidateAll(); err != nil {
			v.add(loc, "%v", err)
		}
	}
	v.walk(loc, m.ProtoReflect())
}

// routeConfiguration is message for a route table, with the
// protoc-gen-validate rules of each route run on their own so that a
// problem in a route is reported with the route's name (and so the object
// it came from).
func (v *validator) routeConfiguration(loc location, rc *routev3.RouteConfiguration) {
	shell := proto.Clone(rc).(*routev3.RouteConfiguration)
	for _, vh := range shell.GetVirtualHosts() {
		vh.Routes = nil
	}
	if err := shell.ValidateAll(); err != nil {
		v.add(loc, "%v", err)
	}
	for i, vh := range rc.GetVirtualHosts() {
		for j, r := range vh.GetRoutes() {
			rloc := loc.at(fmt.Sprintf("virtual_hosts[%d].routes[%d]", i, j))
			rloc.route = r.GetName()
			if err := r.ValidateAll(); err != nil {
				v.add(rloc, "%v", err)
			}
		}
	}
	v.walk(loc, rc.ProtoReflect())
}

// walk checks m and every message below it, in field order so that the
// errors come out in a stable order.
func (v *validator) walk(loc location, m protoreflect.Message) {
	if r, ok := m.Interface().(*routev3.Route); ok {
		loc.route = r.GetName()
	}
	v.inspect(loc, m.Interface())
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		name := string(fd.Name())
		switch {
		case fd.IsList():
			if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
				continue
			}
			list := m.Get(fd).List()
			for j := 0; j < list.Len(); j++ {
				v.value(loc.at(fmt.Sprintf("%s[%d]", name, j)), list.Get(j).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind && fd.MapValue().Kind() != protoreflect.GroupKind {
				continue
			}
			mp := m.Get(fd).Map()
			var keys []protoreflect.MapKey
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
			for _, k := range keys {
				v.value(loc.at(fmt.Sprintf("%s[%s]", name, k.String())), mp.Get(k).Message())
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			v.value(loc.at(name), m.Get(fd).Message())
		}
	}
}

// value walks a field's message, unpacking it first if it is an Any.
func (v *validator) value(loc location, m protoreflect.Message) {
	if m.Descriptor().FullName() != "google.protobuf.Any" {
		v.walk(loc, m)
		return
	}
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		// A dynamic Any: copy it into the generated type to unpack it.
		a = &anypb.Any{}
		b, err := proto.Marshal(m.Interface())
		if err == nil {
			err = proto.Unmarshal(b, a)
		}
		if err != nil {
			v.add(loc, "cannot read Any: %v", err)
			return
		}
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		v.add(loc, "cannot unpack Any of type %q: %v", a.GetTypeUrl(), err)
		return
	}
	v.message(loc.at("("+string(inner.ProtoReflect().Descriptor().FullName())+")"), inner)
}

// inspect makes the checks protoc-gen-validate cannot: regex syntax,
// references between resources, weights.
func (v *validator) inspect(loc location, m proto.Message) {
	switch m := m.(type) {
	case *matcherv3.RegexMatcher:
		// Go's regexp implements RE2's syntax, the one Envoy's safe_regex
		// engine uses.
		if m.GetRegex() == "" {
			v.add(loc, "regex is empty")
		} else if _, err := regexp.Compile(m.GetRegex()); err != nil {
			v.add(loc, "regex %q does not compile: %v", m.GetRegex(), err)
		} else if n := regexProgramSize(m.GetRegex()); n > MaxRegexProgramSize {
			v.add(loc, "regex %q is too complex: its program has about %d instructions, Envoy accepts %d", m.GetRegex(), n, MaxRegexProgramSize)
		}
	case *routev3.RouteAction:
		if c := m.GetCluster(); c != "" && c != UnavailableCluster {
			v.cluster(loc, c)
		}
		// The unavailable share exists only as a name no cluster has, which
		// Envoy answers with cluster_not_found_response_code: without 500
		// set there, it would answer 503.
		uses := m.GetCluster() == UnavailableCluster
		for _, c := range m.GetWeightedClusters().GetClusters() {
			uses = uses || c.GetName() == UnavailableCluster
		}
		if uses && m.GetClusterNotFoundResponseCode() != routev3.RouteAction_INTERNAL_SERVER_ERROR {
			v.add(loc, "cluster %q is used without cluster_not_found_response_code INTERNAL_SERVER_ERROR", UnavailableCluster)
		}
	case *routev3.WeightedCluster:
		total := uint64(0)
		for _, c := range m.GetClusters() {
			if c.GetName() != "" && c.GetName() != UnavailableCluster {
				v.cluster(loc, c.GetName())
			}
			total += uint64(c.GetWeight().GetValue())
		}
		if total == 0 {
			v.add(loc, "every weighted cluster has weight zero")
		}
	case *routev3.RouteAction_RequestMirrorPolicy:
		if c := m.GetCluster(); c != "" {
			v.cluster(loc, c)
		}
	case *hcmv3.Rds:
		if !v.routes[m.GetRouteConfigName()] {
			v.add(loc, "RDS route configuration %q does not exist", m.GetRouteConfigName())
		}
	case *tlsv3.SdsSecretConfig:
		if !v.secrets[m.GetName()] {
			v.add(loc, "SDS secret %q does not exist", m.GetName())
		}
	case *tlsv3.TlsCertificate:
		// Envoy refuses a certificate it cannot load, and with it the
		// whole SDS update; Go's loader checks as much (PEM, parse, key
		// matches the certificate).
		cert, certOK := inlineData(m.GetCertificateChain())
		key, keyOK := inlineData(m.GetPrivateKey())
		if certOK && keyOK {
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				v.add(loc, "certificate and private key do not load: %v", err)
			}
		}
	case *tlsv3.CertificateValidationContext:
		if ca, ok := inlineData(m.GetTrustedCa()); ok && !x509.NewCertPool().AppendCertsFromPEM(ca) {
			v.add(loc, "trusted CA holds no PEM certificate")
		}
	case *clusterv3.Cluster:
		v.clusterPolicies(loc, m)
	case *corev3.HealthCheck_HttpHealthCheck:
		// Envoy refuses ranges outside [100, 600) or empty ones when it
		// builds the checker, which protoc-gen-validate does not see.
		for i, r := range m.GetExpectedStatuses() {
			if r.GetStart() < 100 || r.GetEnd() > 600 || r.GetStart() >= r.GetEnd() {
				v.add(loc.at(fmt.Sprintf("expected_statuses[%d]", i)), "status range [%d, %d) is not a non-empty range within [100, 600)", r.GetStart(), r.GetEnd())
			}
		}
	case *udpproxyv3.Route:
		v.cluster(loc, m.GetCluster())
	case *tcpproxyv3.TcpProxy:
		if c := m.GetCluster(); c != "" {
			v.cluster(loc, c)
		}
		for _, c := range m.GetWeightedClusters().GetClusters() {
			v.cluster(loc, c.GetName())
		}
	}
}

// MaxRegexProgramSize is the largest RE2 program Envoy accepts in a
// regex: the bootstrap raises Envoy's limit (100 by default) to this.
const MaxRegexProgramSize = 1000

// regexProgramSize estimates the size of re's RE2 program with Go's
// compiler, which implements the same syntax. The two counts are close but
// not equal (RE2 expands negated classes into UTF-8 ranges and shares
// common prefixes of alternatives), so this catches patterns that are far
// too large, such as large counted repetitions, not ones at the margin.
func regexProgramSize(re string) int {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return 0
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return 0
	}
	return len(prog.Inst)
}

// inlineData returns the bytes of an inline data source; files and
// environment variables cannot be checked here.
func inlineData(ds *corev3.DataSource) ([]byte, bool) {
	switch ds.GetSpecifier().(type) {
	case *corev3.DataSource_InlineBytes:
		return ds.GetInlineBytes(), true
	case *corev3.DataSource_InlineString:
		return []byte(ds.GetInlineString()), true
	}
	return nil, false
}

func (v *validator) cluster(loc location, name string) {
	if !v.clusters[name] {
		v.add(loc, "cluster %q does not exist", name)
	}
}

// domains reports a domain that appears twice in one route configuration;
// Envoy compares them without regard to case and rejects the whole
// configuration.
func (v *validator) domains(loc location, rc *routev3.RouteConfiguration) {
	owner := map[string]string{}
	for i, vh := range rc.GetVirtualHosts() {
		vloc := loc.at(fmt.Sprintf("virtual_hosts[%d]", i))
		for _, d := range vh.GetDomains() {
			key := strings.ToLower(d)
			if other, ok := owner[key]; ok {
				if other == vh.GetName() {
					v.add(vloc, "domain %q appears twice in virtual host %q", d, other)
				} else {
					v.add(vloc, "domain %q of virtual host %q is also a domain of virtual host %q", d, vh.GetName(), other)
				}
				continue
			}
			owner[key] = vh.GetName()
		}
	}
}

// filterChainMatches reports filter chains that Envoy could not tell apart:
// the same server name in two chains, or two chains that match anything.
// Only chains that match on nothing but server names are compared; others
// are left to Envoy.
func (v *validator) filterChainMatches(loc location, l *listenerv3.Listener) {
	owner := map[string]int{}
	defaultChain := -1
	for i, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		names := m.GetServerNames()
		if m != nil {
			rest := proto.Clone(m).(*listenerv3.FilterChainMatch)
			rest.ServerNames = nil
			if !proto.Equal(rest, &listenerv3.FilterChainMatch{}) {
				continue
			}
		}
		floc := loc.at(fmt.Sprintf("filter_chains[%d]", i))
		if len(names) == 0 {
			if defaultChain >= 0 {
				v.add(floc, "matches the same connections as filter_chains[%d]", defaultChain)
			}
			defaultChain = i
			continue
		}
		for _, n := range names {
			key := strings.ToLower(n)
			if other, ok := owner[key]; ok && other != i {
				v.add(floc, "server name %q is also matched by filter_chains[%d]", n, other)
				continue
			}
			owner[key] = i
		}
	}
}
