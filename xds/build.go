package xds

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/legateproxy/legate/translators/ir"
)

// Well-known Envoy extension names used in the resources Build makes.
const (
	httpConnectionManagerName = "envoy.filters.network.http_connection_manager"
	tcpProxyName              = "envoy.filters.network.tcp_proxy"
	udpProxyName              = "envoy.filters.udp_listener.udp_proxy"
	routerFilterName          = "envoy.filters.http.router"
	tlsInspectorName          = "envoy.filters.listener.tls_inspector"
	tlsTransportSocketName    = "envoy.transport_sockets.tls"
	httpProtocolOptionsName   = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// RouteConfigName is the name of the RouteConfiguration that serves one
// virtual host of an HTTPS listener. Each TLS virtual host gets its own
// filter chain and its own route table so that a certificate only ever
// serves the hosts it was issued for. HTTP listeners have one route table
// named after the listener itself (see HTTPRouteConfigName).
func RouteConfigName(listener, vhost string) string {
	return listener + "/" + vhost
}

// HTTPRouteConfigName is the name of the RouteConfiguration of a plain HTTP
// listener: the listener's name.
func HTTPRouteConfigName(listener string) string {
	return listener
}

// Build turns an IR Config into Envoy resources. It is pure and
// deterministic: the same Config always gives the same resources, every
// resource list sorted by name. Build does not validate its output deeply;
// callers run Validate before publishing.
//
// Build expects a Config that passed ir.Config.Validate; it still returns an
// error (naming the IR element) for what it cannot express in Envoy terms,
// with every such problem joined.
//
// Build remembers nothing between calls; a long-lived caller that builds
// one snapshot after another uses a Builder.
func Build(cfg *ir.Config) (*Resources, error) {
	return (&buildRun{}).build(cfg)
}

// Builder is Build with a memory of its last call, for a caller that
// builds one configuration after another from IR that translators share
// between runs (an unchanged object gives the very *ir.Route, *ir.Cluster
// and *ir.Secret it gave before, and nobody writes into those afterwards).
// The Envoy resource made from such an IR element last time is reused
// instead of being built again: a cluster and its load assignment from
// the same *ir.Cluster, a secret from the same *ir.Secret, a whole virtual
// host when the IR virtual host has the same name and hostnames and the
// same route pointers in the same order, and in a virtual host that
// changed, a route from the same *ir.Route (decoded from the last
// virtual host's encoding). What Build returns for a Config, a Builder
// returns too (the same encodings, resource by resource); it only shares
// unchanged resources with its previous output, which, like every output,
// must not be modified.
//
// Only the last call's elements are remembered, so memory follows the
// configuration's size, not its history. The zero value is ready to use; a
// Builder may be used by several goroutines (calls are serialised).
type Builder struct {
	mu   sync.Mutex
	last *buildMemo
}

// Build is the package's Build, reusing what the previous call built from
// the same IR elements. After an error the next call starts from nothing.
func (b *Builder) Build(cfg *ir.Config) (*Resources, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	run := &buildRun{prev: b.last, next: &buildMemo{vhosts: map[string][]*builtVirtualHost{}}}
	if b.last == nil {
		run.prev = &buildMemo{}
	}
	b.last = nil
	res, err := run.build(cfg)
	if err != nil {
		return nil, err
	}
	b.last = run.next
	return res, nil
}

// buildMemo is what one build made, list by list in the order it was
// made, with the IR element each was made from. Keys are pointers: a memo
// holds them, so no other element can be given the same address while it
// is remembered. A list is looked up with a cursor that walks it alongside
// the next build's list (see memoCursor), so an unchanged element costs a
// pointer comparison rather than a map lookup and insert.
type buildMemo struct {
	clusters []memoEntry[*ir.Cluster, builtCluster]
	secrets  []memoEntry[*ir.Secret, *tlsv3.Secret]
	// clusterLists are the lists of clusters and load assignments made
	// from clusters, when they came in name order: a build whose IR
	// clusters are the very same takes them as they are (a route edit
	// leaves 10k clusters alone; making the lists again was a megabyte
	// per edit). Resources' lists are never modified once built.
	clusterLists *builtClusterLists
	// vhosts are the virtual hosts of each route configuration, by its
	// name, sorted by name as the table holds them.
	vhosts map[string][]*builtVirtualHost
}

// memoEntry is one element of a list of a build: its name, the IR element
// it was made from and what was made.
type memoEntry[K comparable, V any] struct {
	name string
	key  K
	val  V
}

// memoCursor finds, in a list of the last build, what was made from an
// element of this build's list. Lists come in the same order run after
// run (the IR's, sorted by name), so the element is most often the one at
// the cursor, else a little further on by name; a list that turns out not
// to be in name order is indexed by key for the rest of the run.
type memoCursor[K comparable, V any] struct {
	last  []memoEntry[K, V]
	j     int
	prev  string
	index map[K]V
}

func (c *memoCursor[K, V]) find(name string, key K) (V, bool) {
	if c.index != nil {
		v, ok := c.index[key]
		return v, ok
	}
	if c.j < len(c.last) && c.last[c.j].key == key {
		c.j++
		c.prev = name
		return c.last[c.j-1].val, true
	}
	if name < c.prev {
		c.index = make(map[K]V, len(c.last))
		for _, e := range c.last {
			c.index[e.key] = e.val
		}
		v, ok := c.index[key]
		return v, ok
	}
	c.prev = name
	for c.j < len(c.last) && c.last[c.j].name < name {
		c.j++
	}
	for k := c.j; k < len(c.last) && c.last[k].name == name; k++ {
		if c.last[k].key == key {
			return c.last[k].val, true
		}
	}
	var zero V
	return zero, false
}

// builtVirtualHost is a virtual host, kept encoded, with what it was made
// from:
// its own copies of the IR virtual host's hostnames and route pointers
// (VirtualHost values are rebuilt every run, and their slices are not
// promised to stay untouched). Never written once built: later builds
// share it where the virtual host did not change.
type builtVirtualHost struct {
	name      string
	hostnames []string
	routes    []*ir.Route
	kept      *VirtualHost
}

// builtClusterLists are the cluster and load-assignment lists of a build.
type builtClusterLists struct {
	clusters  []*Cluster
	endpoints []*LoadAssignment
}

// sameClusters says whether cfg's clusters are, in order, the very ones the
// memo's entries were made from.
func (m *buildMemo) sameClusters(clusters []*ir.Cluster) bool {
	if m == nil || m.clusterLists == nil || len(m.clusters) != len(clusters) {
		return false
	}
	for i, c := range clusters {
		if m.clusters[i].key != c {
			return false
		}
	}
	return true
}

// builtCluster is a cluster and, for an EDS cluster, its load assignment.
type builtCluster struct {
	cluster   *Cluster
	endpoints *LoadAssignment
}

// buildRun is one build. With a nil next it remembers nothing (Build);
// with a nil prev it reuses nothing.
type buildRun struct {
	prev, next *buildMemo
	// fresh are the virtual hosts this run built, as messages, for the
	// validation that follows (Resources.fresh).
	fresh map[*VirtualHost]*routev3.VirtualHost
}

// keep keeps vh encoded, remembering the message for the validation
// that follows.
func (b *buildRun) keep(vh *routev3.VirtualHost) *VirtualHost {
	kept := NewVirtualHost(vh)
	if b.fresh == nil {
		b.fresh = map[*VirtualHost]*routev3.VirtualHost{}
	}
	b.fresh[kept] = vh
	return kept
}

func (b *buildRun) build(cfg *ir.Config) (*Resources, error) {
	res := &Resources{}
	if cfg == nil {
		return res, nil
	}
	var errs []error
	for _, l := range cfg.Listeners {
		lis, routes, err := b.listener(l)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", l.Name, err))
			continue
		}
		if lis != nil {
			res.Listeners = append(res.Listeners, lis)
		}
		res.Routes = append(res.Routes, routes...)
	}
	var clusters memoCursor[*ir.Cluster, builtCluster]
	var secrets memoCursor[*ir.Secret, *tlsv3.Secret]
	if b.prev != nil {
		clusters.last, secrets.last = b.prev.clusters, b.prev.secrets
	}
	if b.next != nil {
		b.next.secrets = make([]memoEntry[*ir.Secret, *tlsv3.Secret], 0, len(cfg.Secrets))
	}
	// Clusters (and so their load assignments) come out in name order
	// when the IR lists them so, which is checked on the IR's names rather
	// than by reading every cluster made.
	inOrder := true
	if b.prev.sameClusters(cfg.Clusters) {
		res.Clusters, res.Endpoints = b.prev.clusterLists.clusters, b.prev.clusterLists.endpoints
		if b.next != nil {
			b.next.clusters, b.next.clusterLists = b.prev.clusters, b.prev.clusterLists
		}
	} else {
		if b.next != nil {
			b.next.clusters = make([]memoEntry[*ir.Cluster, builtCluster], 0, len(cfg.Clusters))
		}
		res.Clusters = make([]*Cluster, 0, len(cfg.Clusters))
		for i, c := range cfg.Clusters {
			inOrder = inOrder && (i == 0 || cfg.Clusters[i-1].Name < c.Name)
			built, err := b.cluster(&clusters, c)
			if err != nil {
				errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
				continue
			}
			res.Clusters = append(res.Clusters, built.cluster)
			if built.endpoints != nil {
				res.Endpoints = append(res.Endpoints, built.endpoints)
			}
		}
		if b.next != nil && inOrder && len(errs) == 0 {
			b.next.clusterLists = &builtClusterLists{clusters: res.Clusters, endpoints: res.Endpoints}
		}
	}
	for _, s := range cfg.Secrets {
		sec, err := b.secret(&secrets, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("secret %s: %w", s.Name, err))
			continue
		}
		res.Secrets = append(res.Secrets, sec)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("building xDS resources: %w", err)
	}
	res.sort(!inOrder)
	res.fresh = b.fresh
	return res, nil
}

// cluster builds c, or reuses what the last run built from it.
func (b *buildRun) cluster(cur *memoCursor[*ir.Cluster, builtCluster], c *ir.Cluster) (builtCluster, error) {
	built, ok := cur.find(c.Name, c)
	if !ok {
		cl, err := buildCluster(c)
		if err != nil {
			return builtCluster{}, err
		}
		built = builtCluster{cluster: NewCluster(cl)}
		if c.Kind == ir.ClusterEDS {
			built.endpoints = NewLoadAssignment(buildLoadAssignment(c.Name, c.Endpoints))
		}
	}
	if b.next != nil {
		b.next.clusters = append(b.next.clusters, memoEntry[*ir.Cluster, builtCluster]{c.Name, c, built})
	}
	return built, nil
}

// secret builds s, or reuses what the last run built from it.
func (b *buildRun) secret(cur *memoCursor[*ir.Secret, *tlsv3.Secret], s *ir.Secret) (*tlsv3.Secret, error) {
	sec, ok := cur.find(s.Name, s)
	if !ok {
		var err error
		if sec, err = buildSecret(s); err != nil {
			return nil, err
		}
	}
	if b.next != nil {
		b.next.secrets = append(b.next.secrets, memoEntry[*ir.Secret, *tlsv3.Secret]{s.Name, s, sec})
	}
	return sec, nil
}

// sort orders every resource list by name, so that output does not depend
// on the order of the IR.
// Clusters and load assignments are left as they are unless clusters is
// set.
func (r *Resources) sort(clusters bool) {
	sortBy(r.Listeners, (*listenerv3.Listener).GetName)
	sortBy(r.Routes, (*RouteConfiguration).GetName)
	if clusters {
		sortBy(r.Clusters, (*Cluster).GetName)
		sortBy(r.Endpoints, (*LoadAssignment).GetName)
	}
	sortBy(r.Secrets, (*tlsv3.Secret).GetName)
}

// sortBy sorts items stably by name. The IR usually lists them in order
// already, which is checked first: that costs one pass instead of a sort.
func sortBy[T any](items []T, name func(T) string) {
	less := func(a, b T) int { return strings.Compare(name(a), name(b)) }
	if slices.IsSortedFunc(items, less) {
		return
	}
	slices.SortStableFunc(items, less)
}

// adsConfigSource points a resource reference at the ADS stream the
// resource that names it came from.
func adsConfigSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
}

// toAny packs m. Marshalling can fail on strings that are not valid UTF-8
// (proto3 requires it), which the IR does not rule out for e.g. header
// values, so the error is returned rather than assumed away.
func toAny(m proto.Message) (*anypb.Any, error) {
	a, err := anypb.New(m)
	if err != nil {
		return nil, fmt.Errorf("packing %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return a, nil
}
