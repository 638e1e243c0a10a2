package xds

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	statefulsessionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/stateful_session/v3"
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
// matches do not collide; every resource can be encoded.
//
// On success res records the content version of each resource (see
// Resources.Versions). Validate remembers nothing between calls: a long-
// lived caller uses a Validator, which skips resources it validated before.
func Validate(res *Resources) error {
	var v Validator
	return v.Validate(res)
}

// Validator is Validate with a memory: the parts of a snapshot that passed
// (each listener, cluster, load assignment, secret, and each virtual host
// of a route configuration) are remembered by a digest of their encoding,
// with the references they make. A part seen in the previous call is not
// walked again; only its references are checked against the new snapshot,
// and the checks that span parts (names, addresses, domains) always run.
// So one changed route out of 10,000 costs one virtual host's walk plus
// encoding and hashing the rest, instead of a full walk.
//
// Parts are also remembered by the message they were seen as: a message
// of the last call seen again (a Builder hands over the very messages of
// unchanged IR) is not even encoded, as its digest is known; only its
// references are checked. This relies on resources not being modified
// once validated.
//
// The zero value is ready to use. A Validator may be used by several
// goroutines (calls are serialised).
type Validator struct {
	mu sync.Mutex
	// known are the parts that passed in the last call, by digest, and
	// byMessage by the messages they were seen as in it. Entries carry the
	// call that last used them (call); each call drops those it did not use,
	// which costs a pass over the maps rather than building new ones.
	known     map[digest]*knownPart
	byMessage map[proto.Message]*seenMessage
	call      uint64
}

// knownPart is a part that passed: its digest, its version (the digest
// as text, made once) and the references it makes; for the parts of route
// configurations also its encoding, from which the configuration's own is
// put together (see Resources.EncodeRoute).
type knownPart struct {
	digest   digest
	version  string
	refs     []ref
	encoding []byte
	call     uint64
}

// seenMessage is a message that was a part that passed.
type seenMessage struct {
	part *knownPart
	call uint64
}

// digest identifies the content of one part: a SHA-256 of its
// deterministic encoding (a cryptographic hash, so that no object a user
// writes can be made to collide with a validated one).
type digest [sha256.Size]byte

// refKind is what a reference points at.
type refKind uint8

const (
	refCluster refKind = iota
	refRouteConfiguration
	refSecret
	refLoadAssignment
	// refCertificateSecret and refValidationSecret are references to an
	// SDS secret that must be of that kind (when it exists).
	refCertificateSecret
	refValidationSecret
	// refHTTPFilter names an HTTP filter that the connection managers
	// using the route configuration the reference is made in must run
	// (per-filter configuration of it). The route configuration is the
	// resource being checked, not part of the name, so that a virtual host
	// remembered from one route configuration is checked right in another.
	refHTTPFilter
)

// ref is a reference made from inside a part, remembered so that it can be
// checked against a later snapshot without walking the part again.
type ref struct {
	kind  refKind
	name  string
	route string // the enclosing route, if any
	path  string // relative to the part's root
}

// Validate is the package's Validate, reusing what the previous call
// validated.
func (val *Validator) Validate(res *Resources) error {
	if res == nil {
		return nil
	}
	val.mu.Lock()
	defer val.mu.Unlock()
	if val.known == nil {
		val.known = map[digest]*knownPart{}
		val.byMessage = map[proto.Message]*seenMessage{}
	}
	val.call++
	v := &validator{
		routes:      make(map[string]bool, len(res.Routes)),
		clusters:    make(map[string]bool, len(res.Clusters)),
		endpoints:   make(map[string]bool, len(res.Endpoints)),
		secrets:     make(map[string]bool, len(res.Secrets)),
		known:       val.known,
		byMessage:   val.byMessage,
		call:        val.call,
		remember:    true,
		secretKind:  map[string]string{},
		httpFilters: map[string]map[string]bool{},
	}
	versions := &Versions{
		Listeners: make(map[string]string, len(res.Listeners)),
		Routes:    make(map[string]string, len(res.Routes)),
		Clusters:  make(map[string]string, len(res.Clusters)),
		Endpoints: make(map[string]string, len(res.Endpoints)),
		Secrets:   make(map[string]string, len(res.Secrets)),
	}
	listeners := make(map[string]bool, len(res.Listeners))
	for _, l := range res.Listeners {
		v.name("Listener", l.GetName(), listeners)
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
		switch s.GetType().(type) {
		case *tlsv3.Secret_TlsCertificate:
			v.secretKind[s.GetName()] = "certificate"
		case *tlsv3.Secret_ValidationContext:
			v.secretKind[s.GetName()] = "validation context"
		}
	}
	for _, l := range res.Listeners {
		v.collectHTTPFilters(l)
	}

	encodings := make([]*routeEncoding, 0, len(res.Routes))
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
		p := v.part(loc, l, false, false, func() {
			v.filterChainMatches(loc, l)
			v.message(loc, l)
		})
		versions.Listeners[l.GetName()] = p.version
	}
	for _, r := range res.Routes {
		loc := location{kind: "RouteConfiguration", name: r.GetName()}
		v.domains(loc, r)
		d, enc := v.routeConfiguration(loc, r)
		versions.Routes[r.GetName()] = d.String()
		encodings = append(encodings, enc)
	}
	for _, c := range res.Clusters {
		loc := location{kind: "Cluster", name: c.GetName()}
		p := v.part(loc, c, false, false, func() {
			if c.GetType() == clusterv3.Cluster_EDS {
				name := c.GetEdsClusterConfig().GetServiceName()
				if name == "" {
					name = c.GetName()
				}
				v.ref(loc, refLoadAssignment, name)
			}
			v.message(loc, c)
		})
		versions.Clusters[c.GetName()] = p.version
	}
	for _, e := range res.Endpoints {
		loc := location{kind: "ClusterLoadAssignment", name: e.GetClusterName()}
		p := v.part(loc, e, false, false, func() { v.message(loc, e) })
		versions.Endpoints[e.GetClusterName()] = p.version
	}
	for _, s := range res.Secrets {
		loc := location{kind: "Secret", name: s.GetName()}
		p := v.part(loc, s, false, false, func() { v.message(loc, s) })
		versions.Secrets[s.GetName()] = p.version
	}
	// Only what this snapshot holds is remembered, so the memory follows
	// the configuration's size rather than its history.
	val.forget()
	res.versions, res.routeEncodings = nil, nil
	if len(v.errs) == 0 {
		res.versions, res.routeEncodings = versions, encodings
		return nil
	}
	return fmt.Errorf("invalid xDS resources: %w", errors.Join(v.errs...))
}

// forget drops what the last call did not use.
func (val *Validator) forget() {
	for d, p := range val.known {
		if p.call != val.call {
			delete(val.known, d)
		}
	}
	for m, s := range val.byMessage {
		if s.call != val.call {
			delete(val.byMessage, m)
		}
	}
}

type validator struct {
	routes, clusters, endpoints, secrets map[string]bool
	errs                                 []error

	// known and byMessage are the Validator's parts (see there), call the
	// number of this call. Unless remember is set they are only read.
	known     map[digest]*knownPart
	byMessage map[proto.Message]*seenMessage
	call      uint64
	remember  bool
	// refs, while a part is walked for the first time, collects its
	// references.
	refs *[]ref
	// partErrs counts the errors that are not dangling references.
	partErrs int
	// buf is reused to encode parts.
	buf []byte
	// secretKind is "certificate" or "validation context" by secret name.
	secretKind map[string]string
	// httpFilters holds, by RDS route configuration name, the HTTP filters
	// of the connection managers that use it; nil for a configuration
	// that several managers with different chains share.
	httpFilters map[string]map[string]bool
}

// collectHTTPFilters records the HTTP filter chains of l's connection
// managers by the route configuration they fetch.
func (v *validator) collectHTTPFilters(l *listenerv3.Listener) {
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			hcm := &hcmv3.HttpConnectionManager{}
			if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(hcm) != nil {
				continue
			}
			rc := hcm.GetRds().GetRouteConfigName()
			if rc == "" {
				continue
			}
			names := map[string]bool{}
			for _, hf := range hcm.GetHttpFilters() {
				names[hf.GetName()] = true
			}
			if prev, ok := v.httpFilters[rc]; ok && !sameSet(prev, names) {
				v.httpFilters[rc] = nil
				continue
			}
			v.httpFilters[rc] = names
		}
	}
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// perFilterConfig records, as references of the part being walked, the
// HTTP filters that per-route configuration in the route configuration
// being checked names: each must run in the connection managers using it,
// or Envoy accepts the configuration and silently does nothing with it (a
// CORS policy that is never applied).
func (v *validator) perFilterConfig(loc location, cfg map[string]*anypb.Any) {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.ref(loc.at("typed_per_filter_config"), refHTTPFilter, k)
	}
}

// sdsKind records a reference to an SDS secret that must be of kind want
// ("certificate" or "validation context"): Envoy would wait for a secret
// of the right kind forever, and the listener or cluster never warm.
func (v *validator) sdsKind(loc location, sds *tlsv3.SdsSecretConfig, want string) {
	if sds == nil {
		return
	}
	kind := refCertificateSecret
	if want == "validation context" {
		kind = refValidationSecret
	}
	v.ref(loc, kind, sds.GetName())
}

// location is where in the resources a problem is.
type location struct {
	kind, name string // the resource
	route      string // the enclosing route, if any
	// vhost, when not zero, says the part being walked is the virtual host
	// at index vhost-1 of a route configuration (its path inside the
	// resource, written out only for an error); path is the field path
	// inside the part.
	vhost int
	path  string
}

func (l location) at(field string) location {
	if l.path != "" {
		field = l.path + "." + field
	}
	l.path = field
	return l
}

// fullPath is the field path inside the resource.
func (l location) fullPath() string {
	if l.vhost == 0 {
		return l.path
	}
	base := fmt.Sprintf("virtual_hosts[%d]", l.vhost-1)
	if l.path == "" {
		return base
	}
	return base + "." + l.path
}

func (v *validator) add(loc location, format string, args ...any) {
	msg := fmt.Sprintf("%s %q", loc.kind, loc.name)
	if loc.route != "" {
		msg += fmt.Sprintf(": route %q", loc.route)
	}
	if p := loc.fullPath(); p != "" {
		msg += ": " + p
	}
	v.errs = append(v.errs, fmt.Errorf("%s: %s", msg, fmt.Sprintf(format, args...)))
	v.partErrs++
}

// name records a resource name, reporting empty and repeated names.
func (v *validator) name(kind, name string, set map[string]bool) {
	loc := location{kind: kind, name: name}
	if name == "" {
		v.add(loc, "name is empty")
	}
	if set[name] {
		v.add(loc, "duplicate %s name", kind)
	}
	set[name] = true
}

// part validates one part of a resource, m, rooted at loc, and returns
// its digest and version: if m itself, or a part with the same encoding,
// passed before, only its references are checked; otherwise check walks
// it, and it is remembered if that found nothing wrong. transient says m
// was made for this call alone, so is not remembered as a message. The
// digest is zero if m cannot be encoded (reported).
//
// With keep, the part's encoding is kept in what part returns.
func (v *validator) part(loc location, m proto.Message, transient, keep bool, check func()) *knownPart {
	if s := v.byMessage[m]; s != nil && (s.part.encoding != nil || !keep) {
		v.recheck(loc, s.part)
		if v.remember {
			s.call = v.call
			s.part.call = v.call
		}
		return s.part
	}
	var err error
	v.buf, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(v.buf[:0], m)
	if err != nil {
		v.add(loc, "cannot be encoded: %v", err)
		return &knownPart{}
	}
	d := sha256.Sum256(v.buf)
	p := v.known[d]
	if p != nil {
		v.recheck(loc, p)
		if keep && p.encoding == nil {
			p.encoding = slices.Clone(v.buf)
		}
	} else {
		partErrs := v.partErrs
		refs := []ref{}
		v.refs = &refs
		check()
		v.refs = nil
		p = &knownPart{digest: d, version: digest(d).String(), refs: refs}
		if keep {
			p.encoding = slices.Clone(v.buf)
		}
		// A part whose only problems are dangling references is itself
		// fine: remember it, as its references are checked again on every
		// use.
		if v.partErrs != partErrs || !v.remember {
			return p
		}
		v.known[d] = p
	}
	if v.remember {
		p.call = v.call
		if !transient {
			v.byMessage[m] = &seenMessage{part: p, call: v.call}
		}
	}
	return p
}

// recheck checks the references of a part that passed before, as they
// were found when it was walked.
func (v *validator) recheck(loc location, p *knownPart) {
	for _, r := range p.refs {
		v.check(location{kind: loc.kind, name: loc.name, route: r.route, vhost: loc.vhost, path: r.path}, r.kind, r.name)
	}
}

// ref records a reference from the part being walked and checks it.
func (v *validator) ref(loc location, kind refKind, name string) {
	if v.refs != nil {
		*v.refs = append(*v.refs, ref{kind: kind, name: name, route: loc.route, path: loc.path})
	}
	v.check(loc, kind, name)
}

// check reports a reference that does not resolve in this snapshot.
func (v *validator) check(loc location, kind refKind, name string) {
	var format string
	switch kind {
	case refCluster:
		if v.clusters[name] {
			return
		}
		format = "cluster %q does not exist"
	case refRouteConfiguration:
		if v.routes[name] {
			return
		}
		format = "RDS route configuration %q does not exist"
	case refSecret:
		if v.secrets[name] {
			return
		}
		format = "SDS secret %q does not exist"
	case refLoadAssignment:
		if v.endpoints[name] {
			return
		}
		format = "EDS cluster has no ClusterLoadAssignment %q"
	case refCertificateSecret, refValidationSecret:
		want := map[refKind]string{refCertificateSecret: "certificate", refValidationSecret: "validation context"}[kind]
		got, ok := v.secretKind[name]
		if !ok || got == want {
			return // a missing secret is reported by its refSecret
		}
		v.add(loc, "SDS secret %q is a %s, a %s is needed here", name, got, want)
		v.partErrs--
		return
	case refHTTPFilter:
		filter := name
		filters, ok := v.httpFilters[loc.name]
		if !ok || filters == nil || filters[filter] {
			return
		}
		v.add(loc, "names HTTP filter %q, which the connection manager using this route configuration does not run", filter)
		v.partErrs--
		return
	}
	v.add(loc, format, name)
	// Not a problem of the part itself (see part).
	v.partErrs--
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

// routeConfiguration validates a route table as parts: the table without
// its virtual hosts, then each virtual host, so that a table in which one
// host changed is walked only there. The protoc-gen-validate rules of each
// route run on their own so that a problem in a route is reported with the
// route's name (and so the object it came from). The table's version
// combines the digests of its parts (encoding a 10k-host table once more
// for a hash of the whole would cost more than validating what changed).
//
// It also returns the encodings of the parts, from which the table's own
// encoding is put together without encoding it again.
func (v *validator) routeConfiguration(loc location, rc *routev3.RouteConfiguration) (digest, *routeEncoding) {
	h := sha256.New()
	shell := without(rc, "virtual_hosts").(*routev3.RouteConfiguration)
	p := v.part(loc, shell, true, true, func() { v.message(loc, shell) })
	h.Write(p.digest[:])
	enc := &routeEncoding{rc: rc, shell: p.encoding, vhosts: make([][]byte, len(rc.GetVirtualHosts()))}
	for i, vh := range rc.GetVirtualHosts() {
		vloc := loc
		vloc.vhost = i + 1
		p := v.part(vloc, vh, false, true, func() {
			if err := without(vh, "routes").(*routev3.VirtualHost).ValidateAll(); err != nil {
				v.add(vloc, "%v", err)
			}
			for j, r := range vh.GetRoutes() {
				rloc := vloc.at(fmt.Sprintf("routes[%d]", j))
				rloc.route = r.GetName()
				if err := r.ValidateAll(); err != nil {
					v.add(rloc, "%v", err)
				}
			}
			v.walk(vloc, vh.ProtoReflect())
		})
		h.Write(p.digest[:])
		enc.vhosts[i] = p.encoding
	}
	var out digest
	h.Sum(out[:0])
	return out, enc
}

// String is the digest as a version: the hex SHA-256 of the part's
// deterministic encoding, which for a whole resource is the version
// go-control-plane reports on the wire for it in delta xDS, so that the
// versions a reconnecting Envoy presents match.
func (d digest) String() string {
	return hex.EncodeToString(d[:])
}

// without returns a shallow copy of m without field (which it shares
// everything else with), for checking m's own rules apart from a large
// repeated field that is checked piece by piece.
func without(m proto.Message, field protoreflect.Name) proto.Message {
	src := m.ProtoReflect()
	skip := src.Descriptor().Fields().ByName(field)
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		if fd != skip {
			dst.Set(fd, val)
		}
		return true
	})
	return dst.Interface()
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
		// Envoy answers with cluster_not_found_response_code: 500 (HTTP
		// routes) or 503 (gRPC routes, whose clients read it as
		// UNAVAILABLE); never 404, which would claim the route is missing.
		uses := m.GetCluster() == UnavailableCluster
		for _, c := range m.GetWeightedClusters().GetClusters() {
			uses = uses || c.GetName() == UnavailableCluster
		}
		if code := m.GetClusterNotFoundResponseCode(); uses && code != routev3.RouteAction_INTERNAL_SERVER_ERROR && code != routev3.RouteAction_SERVICE_UNAVAILABLE {
			v.add(loc, "cluster %q is used with cluster_not_found_response_code %s, not INTERNAL_SERVER_ERROR or SERVICE_UNAVAILABLE", UnavailableCluster, code)
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
		v.ref(loc, refRouteConfiguration, m.GetRouteConfigName())
	case *tlsv3.SdsSecretConfig:
		v.ref(loc, refSecret, m.GetName())
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
	case *routev3.RouteConfiguration:
		v.perFilterConfig(loc, m.GetTypedPerFilterConfig())
	case *routev3.VirtualHost:
		v.perFilterConfig(loc, m.GetTypedPerFilterConfig())
	case *routev3.Route:
		v.perFilterConfig(loc, m.GetTypedPerFilterConfig())
	case *tlsv3.CommonTlsContext:
		for i, sds := range m.GetTlsCertificateSdsSecretConfigs() {
			v.sdsKind(loc.at(fmt.Sprintf("tls_certificate_sds_secret_configs[%d]", i)), sds, "certificate")
		}
		v.sdsKind(loc.at("validation_context_sds_secret_config"), m.GetValidationContextSdsSecretConfig(), "validation context")
		v.sdsKind(loc.at("combined_validation_context"), m.GetCombinedValidationContext().GetValidationContextSdsSecretConfig(), "validation context")
	case *routev3.RetryPolicy:
		if len(m.GetRetriableStatusCodes()) > 0 && !containsString(strings.Split(m.GetRetryOn(), ","), "retriable-status-codes") {
			v.add(loc, "retriable_status_codes are set but retry_on lacks retriable-status-codes, so they are ignored")
		}
		if b := m.GetRetryBackOff(); b.GetMaxInterval() != nil && b.GetMaxInterval().AsDuration() < b.GetBaseInterval().AsDuration() {
			v.add(loc, "retry back-off max_interval is below base_interval")
		}
		for _, c := range m.GetRetriableStatusCodes() {
			if c < 100 || c > 599 {
				v.add(loc, "retriable status code %d is not an HTTP status", c)
			}
		}
	case *corsv3.CorsPolicy:
		for _, f := range []struct{ field, val string }{
			{"allow_methods", m.GetAllowMethods()}, {"allow_headers", m.GetAllowHeaders()},
			{"expose_headers", m.GetExposeHeaders()}, {"max_age", m.GetMaxAge()},
		} {
			if strings.ContainsAny(f.val, "\x00\r\n") {
				v.add(loc.at(f.field), "value %q contains a control character", f.val)
			}
		}
		if ma := m.GetMaxAge(); ma != "" {
			if _, err := strconv.ParseUint(ma, 10, 32); err != nil {
				v.add(loc.at("max_age"), "%q is not a number of seconds", ma)
			}
		}
	case *statefulsessionv3.StatefulSession:
		if st := m.GetSessionState(); st != nil && st.GetTypedConfig() == nil {
			v.add(loc, "session_state %q has no typed_config", st.GetName())
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
	v.ref(loc, refCluster, name)
}

// domains reports a domain that appears twice in one route configuration;
// Envoy compares them without regard to case and rejects the whole
// configuration.
func (v *validator) domains(loc location, rc *routev3.RouteConfiguration) {
	owner := make(map[string]string, 2*len(rc.GetVirtualHosts()))
	for i, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			key := strings.ToLower(d)
			if other, ok := owner[key]; ok {
				vloc := loc.at(fmt.Sprintf("virtual_hosts[%d]", i))
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
