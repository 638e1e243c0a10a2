package xds

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
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
// Parts are also remembered by the message they were seen as, list by
// list in name order: a message the last call saw at its place (a Builder
// hands over the very messages of unchanged IR) is not even encoded, as
// its digest is known, and when the last call passed and the names every
// reference can point at are the same, its references need no check
// either. What such a list costs is then a pass over it comparing
// pointers, not a map lookup per part. This relies on resources not being
// modified once validated.
//
// The zero value is ready to use. A Validator may be used by several
// goroutines (calls are serialised).
type Validator struct {
	mu sync.Mutex
	// known are the parts that passed and that the last call used, by
	// digest; each counts its uses (knownPart.uses) and is dropped when
	// they end, so memory follows the last snapshot, not the history.
	known map[digest]*knownPart
	// last is what the last call saw.
	last *validation
}

// knownPart is a part that passed: its digest, its version (the digest
// as text, made once) and the references it makes.
type knownPart struct {
	digest  digest
	version string
	refs    []ref
	uses    int
}

// use is one part of a call: its message (or resource kept encoded), its name
// in its list and the part it is (nil if it did not pass).
type use struct {
	name string
	msg  any
	part *knownPart
	// reused says this use took over the last call's use of the same
	// message (taken, on that one), which leaves its part's count as it is.
	reused, taken bool
}

// validation is what one call saw: each list of parts in order, and the
// names references resolve against.
type validation struct {
	passed                                  bool
	listeners, clusters, endpoints, secrets []use
	routeNames                              []string
	routes                                  []*routeUses // by index of routeNames
	routeSet, clusterSet, endpointSet       map[string]bool
	secretSet                               map[string]bool
	secretKind                              map[string]string
	httpFilters                             map[string]map[string]bool
	versions                                *Versions
}

// routeUses are the parts of one route configuration.
type routeUses struct {
	shell  use
	vhosts []use
	// owner holds the virtual host of each domain (lower case), for the
	// next call's domain check.
	owner map[string]string
}

// each calls fn for every use of the call, but for the lists of uses it
// shares with other (the very same list: see validator.list).
func (w *validation) each(other *validation, fn func(*use)) {
	lists := [][]use{w.listeners, w.clusters, w.endpoints, w.secrets}
	var others [][]use
	if other != nil {
		others = [][]use{other.listeners, other.clusters, other.endpoints, other.secrets}
	}
	for k, list := range lists {
		if others != nil && len(list) > 0 && len(list) == len(others[k]) && &list[0] == &others[k][0] {
			continue
		}
		for i := range list {
			fn(&list[i])
		}
	}
	for _, r := range w.routes {
		if r == nil {
			continue
		}
		fn(&r.shell)
		for i := range r.vhosts {
			fn(&r.vhosts[i])
		}
	}
}

// cursor walks a list of the last call, sorted by name, alongside the
// same list of this call, to find the last use of a message at its place.
type cursor struct {
	last []use
	j    int
	prev string
	// off is set when this call's list turns out not to be sorted by name:
	// nothing more is looked for (a miss only costs an encoding).
	off bool
}

// fast returns the part of the last call's use at the cursor, and its
// name, if that use is of m itself (the same message has the same name),
// marking it taken; nil otherwise. It reads nothing of m, so a list of
// unchanged messages is walked without touching them.
func (c *cursor) fast(m any) (*knownPart, string) {
	if c == nil || c.off || c.j >= len(c.last) {
		return nil, ""
	}
	if u := &c.last[c.j]; u.msg == m && !u.taken && u.part != nil {
		u.taken = true
		c.j++
		c.prev = u.name
		return u.part, u.name
	}
	return nil, ""
}

// take returns the part of the last call's use of m under name, and marks
// that use taken; nil if there is none.
func (c *cursor) take(name string, m any) *knownPart {
	if c == nil || c.off || m == nil {
		return nil
	}
	if p, _ := c.fast(m); p != nil {
		return p
	}
	if name < c.prev {
		c.off = true
		return nil
	}
	c.prev = name
	for c.j < len(c.last) && c.last[c.j].name < name {
		c.j++
	}
	for k := c.j; k < len(c.last) && c.last[k].name == name; k++ {
		if u := &c.last[k]; u.msg == m && !u.taken && u.part != nil {
			u.taken = true
			return u.part
		}
	}
	return nil
}

func newCursor(last []use) *cursor { return &cursor{last: last} }

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
	}
	last := val.last
	if last == nil {
		last = &validation{}
	}
	now := &validation{routes: make([]*routeUses, len(res.Routes))}
	// The build's messages are walked here, once, and then dropped.
	fresh := res.fresh
	res.fresh = nil
	v := &validator{
		fresh:       fresh,
		known:       val.known,
		remember:    true,
		secretKind:  map[string]string{},
		httpFilters: map[string]map[string]bool{},
	}

	// Names, first the lists whose names are those of a last call that
	// passed: their sets are reused (there can be no duplicate).
	listeners := make(map[string]bool, len(res.Listeners))
	for _, l := range res.Listeners {
		v.name("Listener", l.GetName(), listeners)
	}
	now.routeNames = make([]string, len(res.Routes))
	for i, r := range res.Routes {
		now.routeNames[i] = r.GetName()
	}
	sameRoutes, sameClusters := slices.Equal(now.routeNames, last.routeNames), sameNames(last.clusters, res.Clusters, (*Cluster).GetName)
	sameEndpoints := sameNames(last.endpoints, res.Endpoints, (*LoadAssignment).GetName)
	sameSecrets := sameNames(last.secrets, res.Secrets, (*tlsv3.Secret).GetName)
	v.routes = nameSet(v, last.passed && sameRoutes, last.routeSet, "RouteConfiguration", res.Routes, (*RouteConfiguration).GetName)
	v.clusters = nameSet(v, last.passed && sameClusters, last.clusterSet, "Cluster", res.Clusters, (*Cluster).GetName)
	v.endpoints = nameSet(v, last.passed && sameEndpoints, last.endpointSet, "ClusterLoadAssignment", res.Endpoints, (*LoadAssignment).GetName)
	v.secrets = nameSet(v, last.passed && sameSecrets, last.secretSet, "Secret", res.Secrets, (*tlsv3.Secret).GetName)
	for _, s := range res.Secrets {
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
	// Every reference resolves against these: when they are the last
	// call's, and it passed, a part taken over from it resolves as it did.
	v.sameTargets = last.passed && sameRoutes && sameClusters && sameEndpoints && sameSecrets &&
		maps.Equal(last.secretKind, v.secretKind) &&
		maps.EqualFunc(last.httpFilters, v.httpFilters, maps.Equal)
	now.routeSet, now.clusterSet, now.endpointSet, now.secretSet = v.routes, v.clusters, v.endpoints, v.secrets
	now.secretKind, now.httpFilters = v.secretKind, v.httpFilters

	versions := &Versions{
		Listeners: make(map[string]string, len(res.Listeners)),
		Routes:    make(map[string]string, len(res.Routes)),
	}
	addresses := map[string]string{}
	cur := newCursor(last.listeners)
	now.listeners = make([]use, len(res.Listeners))
	for i, l := range res.Listeners {
		loc := location{kind: "Listener", name: l.GetName()}
		if sa := l.GetAddress().GetSocketAddress(); sa != nil {
			key := fmt.Sprintf("%s/%s:%d", sa.GetProtocol(), sa.GetAddress(), sa.GetPortValue())
			if other, ok := addresses[key]; ok {
				v.add(loc, "address %s is also used by listener %q", key, other)
			}
			addresses[key] = l.GetName()
		}
		now.listeners[i] = v.use(cur, loc, l.GetName(), l, false, func() {
			v.filterChainMatches(loc, l)
			v.message(loc, l)
		})
		versions.Listeners[l.GetName()] = now.listeners[i].version()
	}
	lastRoutes := make(map[string]*routeUses, len(last.routes))
	for i, r := range last.routes {
		if _, dup := lastRoutes[last.routeNames[i]]; !dup {
			lastRoutes[last.routeNames[i]] = r
		}
	}
	for i, r := range res.Routes {
		loc := location{kind: "RouteConfiguration", name: r.GetName()}
		uses := &routeUses{}
		d := v.routeConfiguration(loc, r, lastRoutes[r.GetName()], last.passed, uses)
		now.routes[i] = uses
		versions.Routes[r.GetName()] = d.String()
	}
	var reused bool
	now.clusters, reused = v.list(last.clusters, len(res.Clusters), func(i int) any { return res.Clusters[i] }, func(cur *cursor, i int) use {
		c := res.Clusters[i]
		loc := location{kind: "Cluster", name: c.GetName()}
		return v.use(cur, loc, c.GetName(), c, false, func() {
			m, ok := decoded(v, loc, c)
			if !ok {
				return
			}
			if m.GetType() == clusterv3.Cluster_EDS {
				name := m.GetEdsClusterConfig().GetServiceName()
				if name == "" {
					name = m.GetName()
				}
				v.ref(loc, refLoadAssignment, name)
			}
			v.message(loc, m)
		})
	})
	versions.Clusters = listVersions(reused && last.passed, last.versions, func(vs *Versions) map[string]string { return vs.Clusters }, now.clusters)
	now.endpoints, reused = v.list(last.endpoints, len(res.Endpoints), func(i int) any { return res.Endpoints[i] }, func(cur *cursor, i int) use {
		e := res.Endpoints[i]
		loc := location{kind: "ClusterLoadAssignment", name: e.GetName()}
		return v.use(cur, loc, e.GetName(), e, false, func() {
			if m, ok := decoded(v, loc, e); ok {
				v.message(loc, m)
			}
		})
	})
	if reused && last.passed && last.versions != nil {
		versions.Endpoints = last.versions.Endpoints
	} else {
		versions.Endpoints = NewVersionMap(usesVersions(now.endpoints))
	}
	now.secrets, reused = v.list(last.secrets, len(res.Secrets), func(i int) any { return res.Secrets[i] }, func(cur *cursor, i int) use {
		s := res.Secrets[i]
		loc := location{kind: "Secret", name: s.GetName()}
		return v.use(cur, loc, s.GetName(), s, false, func() { v.message(loc, s) })
	})
	versions.Secrets = listVersions(reused && last.passed, last.versions, func(vs *Versions) map[string]string { return vs.Secrets }, now.secrets)

	// Only what this snapshot holds is remembered, so the memory follows
	// the configuration's size rather than its history.
	now.passed = len(v.errs) == 0
	val.settle(last, now)
	val.last = now
	res.versions = nil
	if now.passed {
		now.versions = versions
		res.versions = versions
		return nil
	}
	return fmt.Errorf("invalid xDS resources: %w", errors.Join(v.errs...))
}

// settle counts the uses of parts that changed hands between last and
// now, and forgets the parts no longer used.
//
// A list now shares with last (see list) keeps its parts' counts as they
// are, and is not walked.
func (val *Validator) settle(last, now *validation) {
	now.each(last, func(u *use) {
		if u.part != nil && !u.reused {
			u.part.uses++
			val.known[u.part.digest] = u.part
		}
	})
	last.each(now, func(u *use) {
		if u.part != nil && !u.taken {
			if u.part.uses--; u.part.uses <= 0 {
				delete(val.known, u.part.digest)
			}
		}
	})
	// The last call's lists are done with; clear the marks in now's, which
	// the next call takes over from.
	now.each(last, func(u *use) { u.reused = false })
}

// version is the use's version, "" if it could not be encoded.
func (u use) version() string {
	if u.part == nil {
		return ""
	}
	return u.part.version
}

// list makes the uses of a list of n messages with fn, taking over from
// last where it can; reused says every use was taken over, in the last
// call's order and number.
//
// When references need no check, a message the last call had at the same
// place is taken over without being read (see cursor.fast).
func (v *validator) list(last []use, n int, msg func(int) any, fn func(*cursor, int) use) ([]use, bool) {
	if v.sameTargets && sameMessages(last, n, msg) {
		// The very messages of the last call, in its order (a route
		// edit leaves 10k clusters and load assignments as they were):
		// its uses are this call's (settle leaves a shared list alone).
		return last, true
	}
	cur := newCursor(last)
	out := make([]use, n)
	all := n == len(last)
	for i := range n {
		if v.sameTargets {
			m := msg(i)
			if p, name := cur.fast(m); p != nil {
				out[i] = use{name: name, msg: m, part: p, reused: true}
				continue
			}
		}
		out[i] = fn(cur, i)
		all = all && out[i].reused
	}
	return out, all
}

// sameMessages says whether the n messages msg gives are, in order, those
// of last, each of which passed.
func sameMessages(last []use, n int, msg func(int) any) bool {
	if n == 0 || n != len(last) {
		return false
	}
	for i := range n {
		if u := &last[i]; u.msg != msg(i) || u.part == nil {
			return false
		}
	}
	return true
}

// listVersions is the versions of a list by name: the last call's map
// when every use was taken over from it, else a new one.
func listVersions(reused bool, last *Versions, field func(*Versions) map[string]string, uses []use) map[string]string {
	if reused && last != nil {
		return field(last)
	}
	return usesVersions(uses)
}

// usesVersions is the versions of uses by name.
func usesVersions(uses []use) map[string]string {
	out := make(map[string]string, len(uses))
	for _, u := range uses {
		out[u.name] = u.version()
	}
	return out
}

// sameNames says whether items have, in order, the names of last. The
// same message has the same name, so only other messages are read.
func sameNames[T comparable](last []use, items []T, name func(T) string) bool {
	if len(last) != len(items) {
		return false
	}
	for i, it := range items {
		if last[i].msg != any(it) && last[i].name != name(it) {
			return false
		}
	}
	return true
}

// nameSet is the set of the items' names, reporting empty and repeated
// ones; or, with reuse, the last call's set.
func nameSet[T any](v *validator, reuse bool, last map[string]bool, kind string, items []T, name func(T) string) map[string]bool {
	if reuse && last != nil {
		return last
	}
	set := make(map[string]bool, len(items))
	for _, it := range items {
		v.name(kind, name(it), set)
	}
	return set
}

// use validates one part, m, named name in its list: taken over from the
// last call's use of m when cur finds it (its references checked unless
// the targets are the same), otherwise as part does.
func (v *validator) use(cur *cursor, loc location, name string, m any, transient bool, check func()) use {
	if p := cur.take(name, m); p != nil {
		if !v.sameTargets {
			v.recheck(loc, p)
		}
		return use{name: name, msg: m, part: p, reused: true}
	}
	p, ok := v.part(loc, m, check)
	u := use{name: name, part: p}
	if !transient {
		u.msg = m
	}
	if !ok {
		// Not remembered: the call fails, and nothing of it is reused.
		u.part = nil
	}
	return u
}

type validator struct {
	routes, clusters, endpoints, secrets map[string]bool
	errs                                 []error
	// fresh are the messages of the virtual hosts the build just made
	// (Resources.fresh), walked instead of decoded.
	fresh map[*VirtualHost]*routev3.VirtualHost

	// known are the Validator's parts (see there). Unless remember is set
	// they are only read.
	known    map[digest]*knownPart
	remember bool
	// sameTargets says the names references resolve against are those of
	// a last call that passed.
	sameTargets bool
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

// part validates one part of a resource, m, rooted at loc: if a part with
// the same encoding passed before, only its references are checked;
// otherwise check walks it, and it is remembered if that found nothing
// wrong. It returns the part, and whether it passed (its references aside, which are checked on every
// use). The part has a zero digest if m cannot be encoded (reported).
func (v *validator) part(loc location, m any, check func()) (*knownPart, bool) {
	enc, err := v.encode(m)
	if err != nil {
		v.add(loc, "cannot be encoded: %v", err)
		return &knownPart{}, false
	}
	d := sha256.Sum256(enc)
	if p := v.known[d]; p != nil {
		v.recheck(loc, p)
		return p, true
	}
	partErrs := v.partErrs
	refs := []ref{}
	v.refs = &refs
	check()
	v.refs = nil
	p := &knownPart{digest: d, version: digest(d).String(), refs: refs}
	// A part whose only problems are dangling references is itself fine:
	// remember it, as its references are checked again on every use.
	if v.partErrs != partErrs {
		return p, false
	}
	if v.remember {
		v.known[d] = p
	}
	return p, true
}

// encode returns m's deterministic encoding: an Encoded resource's own,
// which must not be modified, or else one made in v.buf (valid until the
// next call).
func (v *validator) encode(m any) ([]byte, error) {
	if e, ok := m.(interface{ Encoding() ([]byte, error) }); ok {
		return e.Encoding()
	}
	var err error
	v.buf, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(v.buf[:0], m.(proto.Message))
	return v.buf, err
}

// decoded is e's message, decoded from the encoding that is served, for a
// walk: a new resource is walked once, as a message, and not kept as one.
func decoded[M proto.Message](v *validator, loc location, e *Encoded[M]) (M, bool) {
	m, err := e.Message()
	if err != nil {
		v.add(loc, "%v", err)
		return m, false
	}
	return m, true
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
// Virtual hosts are kept encoded: the ones not taken over from the last
// call are decoded, once, to be walked (and for their domains).
func (v *validator) routeConfiguration(loc location, rc *RouteConfiguration, last *routeUses, lastPassed bool, now *routeUses) digest {
	vhosts := rc.VirtualHosts()
	// First the virtual hosts taken over from the last call, which the
	// domain check needs to know.
	var cur *cursor
	if last != nil {
		cur = newCursor(last.vhosts)
	}
	// The uses are made here for their names; their parts come below.
	now.vhosts = make([]use, len(vhosts))
	taken := make([]*knownPart, len(vhosts))
	for i, vh := range vhosts {
		if p, name := cur.fast(vh); p != nil {
			taken[i], now.vhosts[i].name = p, name
			continue
		}
		now.vhosts[i].name = vh.GetName()
		taken[i] = cur.take(now.vhosts[i].name, vh)
	}
	msgs := &vhostMessages{v: v, loc: loc, kept: vhosts}
	now.owner = v.domains(loc, msgs, last, lastPassed, taken)

	h := sha256.New()
	now.shell = v.use(nil, loc, "", rc.shell, true, func() { v.message(loc, rc.shell) })
	h.Write(now.shell.digest())
	for i, vh := range vhosts {
		vloc := loc
		vloc.vhost = i + 1
		var u use
		if p := taken[i]; p != nil {
			if !v.sameTargets {
				v.recheck(vloc, p)
			}
			u = use{name: now.vhosts[i].name, msg: vh, part: p, reused: true}
		} else {
			p, ok := v.part(vloc, vh, func() {
				if m := msgs.get(i); m != nil {
					v.virtualHost(vloc, m)
				}
			})
			u = use{name: now.vhosts[i].name, msg: vh}
			if ok {
				u.part = p
			}
		}
		now.vhosts[i] = u
		h.Write(u.digest())
	}
	var out digest
	h.Sum(out[:0])
	return out
}

// virtualHost walks a virtual host that was not seen before.
func (v *validator) virtualHost(vloc location, vh *routev3.VirtualHost) {
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
}

// vhostMessages are the virtual hosts of a route configuration, decoded
// when first asked for: only those not seen before, as a rule, so they
// are held by index rather than in a list of them all (a one-route edit
// of a 10k-host table decodes one).
type vhostMessages struct {
	v    *validator
	loc  location
	kept []*VirtualHost
	msgs map[int]*routev3.VirtualHost
}

// get returns the message of virtual host i, nil (reported once) if it
// does not decode.
func (m *vhostMessages) get(i int) *routev3.VirtualHost {
	if vh, ok := m.msgs[i]; ok {
		return vh
	}
	if m.msgs == nil {
		m.msgs = map[int]*routev3.VirtualHost{}
	}
	if vh := m.v.fresh[m.kept[i]]; vh != nil {
		m.msgs[i] = vh
		return vh
	}
	vloc := m.loc
	vloc.vhost = i + 1
	vh, ok := decoded(m.v, vloc, m.kept[i])
	if !ok {
		vh = nil
	}
	m.msgs[i] = vh
	return vh
}

// digest is the use's digest (zero if it did not pass: the call fails).
func (u use) digest() []byte {
	if u.part == nil {
		return make([]byte, sha256.Size)
	}
	return u.part.digest[:]
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
// configuration. It returns the virtual host of each domain.
//
// When the last call passed, its table of the same name had no domain
// twice: only the domains of the virtual hosts not taken over from it
// (taken, by index) are checked, against its domains less those of its
// virtual hosts that are gone. A domain found twice that way is reported
// by the full check, so that the errors are those a fresh one gives.
func (v *validator) domains(loc location, vhosts *vhostMessages, last *routeUses, lastPassed bool, taken []*knownPart) map[string]string {
	if lastPassed && last != nil && last.owner != nil {
		owner := last.owner
		last.owner = nil // taken over, and changed below
		for i := range last.vhosts {
			if u := &last.vhosts[i]; !u.taken {
				for _, d := range lastDomains(u) {
					if key := strings.ToLower(d); owner[key] == u.name {
						delete(owner, key)
					}
				}
			}
		}
		clean := true
		for i := range vhosts.kept {
			if taken[i] != nil {
				continue
			}
			vh := vhosts.get(i)
			for _, d := range vh.GetDomains() {
				key := strings.ToLower(d)
				if _, twice := owner[key]; twice {
					clean = false
					break
				}
				owner[key] = vh.GetName()
			}
			if !clean {
				break
			}
		}
		if clean {
			return owner
		}
	}
	owner := make(map[string]string, 2*len(vhosts.kept))
	for i := range vhosts.kept {
		vh := vhosts.get(i)
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
	return owner
}

// lastDomains are the domains of a virtual host of the last call that
// is gone (or changed), read from its encoding: their owner entries are
// dropped. Only the domains are read, not the routes (decoding a host of
// thousands of routes for them cost as much as walking it).
func lastDomains(u *use) []string {
	wire, err := u.msg.(*VirtualHost).Encoding()
	if err != nil {
		return nil
	}
	return encodedDomains(wire)
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
