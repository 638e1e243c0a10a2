package ir

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// prunePool is a pool of routes and clusters, valid and not, that random
// Configs are made of, so that one pointer appears in many runs.
type prunePool struct {
	routes   []*Route
	clusters []*Cluster
	secrets  []*Secret
}

func newPrunePool() *prunePool {
	p := &prunePool{}
	for i := range 12 {
		c := &Cluster{Name: fmt.Sprintf("c%d", i), Source: Source{Kind: "Service", Name: fmt.Sprint(i)}, Kind: ClusterEDS,
			Endpoints: []Endpoint{{Address: "10.0.0.1", Port: 80}}}
		switch i % 4 {
		case 1:
			c.Endpoints = []Endpoint{{Address: "not-an-ip", Port: 80}}
		case 2:
			c.TLS = &UpstreamTLS{SNI: "a.example.com", CASecret: "ca", SubjectAltNames: []string{"a.example.com"}}
		case 3:
			c.DNSName = "\xff" // invalid UTF-8 in a field EDS does not read
		}
		p.clusters = append(p.clusters, c)
	}
	p.secrets = []*Secret{{Name: "ca", CA: []byte("pem")}}
	for i := range 40 {
		r := route(fmt.Sprintf("r%d", i), PathPrefix, fmt.Sprintf("/p%d", i))
		r.Forward.Backends = []WeightedBackend{{Cluster: fmt.Sprintf("c%d", i%12), Weight: 1}}
		switch i % 6 {
		case 1:
			r.Match.Path = PathMatch{Type: PathRegex, Value: "("}
		case 2:
			r.Match.Headers = []HeaderMatch{{Name: "x", Type: MatchExact, Value: "\xfe"}}
		case 3:
			r.Filters.Mirrors = []Mirror{{Cluster: fmt.Sprintf("c%d", (i+5)%12), Percent: 50}}
		case 4:
			r.Forward.Backends = append(r.Forward.Backends, WeightedBackend{Weight: 1})
		}
		p.routes = append(p.routes, r)
	}
	// Routes named as others, some with the same match: duplicates.
	for i := range 24 {
		r := route(fmt.Sprintf("r%d", i%5), PathPrefix, fmt.Sprintf("/p%d", i%7))
		r.Forward.Backends = []WeightedBackend{{Cluster: "c0", Weight: 1}}
		p.routes = append(p.routes, r)
	}
	return p
}

// config draws a Config from the pool: some clusters and secrets, and two
// listeners of virtual hosts holding some routes. Drawing with the same
// seed gives equal Configs with the same element pointers.
func (p *prunePool) config(seed uint64) *Config {
	rnd := rand.New(rand.NewPCG(seed, 1))
	c := &Config{}
	for _, cl := range p.clusters {
		if rnd.IntN(4) > 0 {
			c.Clusters = append(c.Clusters, cl)
		}
	}
	if rnd.IntN(2) == 0 {
		c.Secrets = p.secrets
	}
	for l := range 2 {
		lis := &Listener{Name: fmt.Sprintf("l%d", l), Address: "0.0.0.0", Port: uint32(8000 + l), Protocol: ProtocolHTTP}
		for v := range 3 {
			vh := &VirtualHost{Name: fmt.Sprintf("v%d", v), Hostnames: []string{fmt.Sprintf("h%d.example.com", v)}}
			for _, r := range p.routes {
				if rnd.IntN(3) == 0 {
					vh.Routes = append(vh.Routes, r)
				}
			}
			lis.VirtualHosts = append(lis.VirtualHosts, vh)
		}
		c.Listeners = append(c.Listeners, lis)
	}
	return c
}

// TestPrunerEqualsPrune: a Pruner that has seen earlier Configs sharing
// routes and clusters with this one prunes it exactly as a fresh Prune
// does (same Config left, same errors), while clusters, secrets and
// routes come and go.
func TestPrunerEqualsPrune(t *testing.T) {
	pool := newPrunePool()
	var p Pruner
	reused := 0
	for seed := range uint64(200) {
		prev := prunesLikePrune(t, &p, seed, pool.config(seed), pool.config(seed))
		if prev != nil {
			reused += len(prev.routes)
		}
	}
	if reused == 0 {
		t.Fatal("the Pruner never remembered a route")
	}
}

// dropUnreachableRef is dropUnreachable as it was before it spared the
// copy and the map: the reference the faster one must agree with.
func dropUnreachableRef(routes []*Route) ([]*Route, []Error) {
	var errs []Error
	names := map[string]bool{}
	kept := routes[:0:0]
	for _, r := range routes {
		if names[r.Name] {
			errs = append(errs, Error{r.Source, "route " + r.Name, "another route has the same name"})
			continue
		}
		if winner := findSameMatch(kept, r); winner != nil {
			errs = append(errs, Error{r.Source, "route " + r.Name, fmt.Sprintf("its match is identical to that of route %s from %s, which takes precedence", winner.Name, winner.Source)})
			continue
		}
		names[r.Name] = true
		kept = append(kept, r)
	}
	return kept, errs
}

// TestDropUnreachableAgreesWithReference: on random route lists, short
// and long, with repeated names and matches, dropUnreachable keeps and
// reports exactly what the reference does, and leaves its input alone.
func TestDropUnreachableAgreesWithReference(t *testing.T) {
	pool := newPrunePool()
	rnd := rand.New(rand.NewPCG(4, 4))
	for i := range 500 {
		var routes []*Route
		for range rnd.IntN(40) {
			routes = append(routes, pool.routes[rnd.IntN(len(pool.routes))])
		}
		in := slices.Clone(routes)
		got, gotErrs := dropUnreachable(routes)
		want, wantErrs := dropUnreachableRef(in)
		if !slices.Equal(got, want) || !reflect.DeepEqual(gotErrs, wantErrs) {
			t.Fatalf("list %d (%d routes): kept %d, reported %d; want %d, %d", i, len(in), len(got), len(gotErrs), len(want), len(wantErrs))
		}
		if !slices.Equal(routes, in) {
			t.Fatalf("list %d: dropUnreachable changed its input", i)
		}
	}
}

// TestDNSLabelAgreesWithItsPattern: the hand-written label check accepts
// exactly what ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ (at most 63 characters)
// does, on random strings over letters of both cases, digits, '-', '.',
// '_' and a non-ASCII letter.
func TestDNSLabelAgreesWithItsPattern(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	alphabet := []rune("ab-z09AZ._é")
	rnd := rand.New(rand.NewPCG(9, 9))
	for i := range 20000 {
		n := rnd.IntN(8)
		if i%100 == 0 {
			n = 60 + rnd.IntN(8)
		}
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rnd.IntN(len(alphabet))])
		}
		s := b.String()
		if want := len(s) <= 63 && re.MatchString(s); dnsLabel(s) != want {
			t.Fatalf("dnsLabel(%q) = %v, want %v", s, !want, want)
		}
	}
	if !dnsLabel(strings.Repeat("a", 63)) || dnsLabel(strings.Repeat("a", 64)) {
		t.Fatal("a label may have 63 characters, not 64")
	}
}

// TestPrunerEqualsPruneSharedVirtualHosts: as TestPrunerEqualsPrune, with
// virtual hosts drawn from a pool too (as a translator hands out the same
// virtual host for what did not change), some with TLS, some claiming a
// hostname another claims, between listeners of changing protocols; and
// neither Prune nor the Pruner writes into a virtual host it was given.
func TestPrunerEqualsPruneSharedVirtualHosts(t *testing.T) {
	pool := newPrunePool()
	rnd := rand.New(rand.NewPCG(7, 7))
	var vhs []*VirtualHost
	for i := range 30 {
		vh := &VirtualHost{Name: fmt.Sprintf("v%02d", i), Hostnames: []string{fmt.Sprintf("h%d.example.com", i%25)}}
		for _, r := range pool.routes {
			if rnd.IntN(8) == 0 {
				vh.Routes = append(vh.Routes, r)
			}
		}
		if i%2 == 0 {
			// Valid routes alone, to clusters that are valid when
			// drawn.
			vh.Routes = nil
			for j := range 1 + i%3 {
				r := route(fmt.Sprintf("ok%d-%d", i, j), PathPrefix, fmt.Sprintf("/ok%d", j))
				r.Forward.Backends = []WeightedBackend{{Cluster: fmt.Sprintf("c%d", 4*(j%3)), Weight: 1}}
				vh.Routes = append(vh.Routes, r)
			}
		}
		switch i % 7 {
		case 1:
			vh.TLS = &TLSConfig{SecretNames: []string{"ca"}}
		case 2:
			vh.Hostnames = append(vh.Hostnames, "bad..name")
		}
		if i%11 == 0 {
			// More than 16 routes: the Pruner keeps their entries.
			vh.Routes = append(vh.Routes, pool.routes[:20]...)
		}
		vhs = append(vhs, vh)
	}
	// Virtual hosts named by their one hostname, in order of names (as a
	// Gateway listener's are): the Pruner indexes none of their names.
	var named []*VirtualHost
	for i, vh := range vhs {
		cp := *vh
		cp.Name = fmt.Sprintf("n%02d.example.com", i)
		if i%9 == 4 {
			cp.Name = "-bad.example.com"[:1] + cp.Name // not a hostname
		}
		cp.Hostnames = []string{cp.Name}
		named = append(named, &cp)
	}
	slices.SortFunc(named, func(a, b *VirtualHost) int { return strings.Compare(a.Name, b.Name) })
	draw := func(seed uint64) *Config {
		rnd := rand.New(rand.NewPCG(seed, 3))
		// The secrets and clusters change every third run only (the
		// Pruner reuses what it made of the same lists).
		brnd := rand.New(rand.NewPCG(seed/3, 5))
		c := &Config{}
		for _, cl := range pool.clusters {
			if brnd.IntN(6) > 0 {
				c.Clusters = append(c.Clusters, cl)
			}
		}
		if brnd.IntN(3) > 0 {
			c.Secrets = pool.secrets
		}
		for l := range 2 {
			proto := ProtocolHTTP
			if rnd.IntN(2) == 0 {
				proto = ProtocolHTTPS
			}
			lis := &Listener{Name: fmt.Sprintf("l%d", l), Address: "0.0.0.0", Port: uint32(8000 + l), Protocol: proto}
			from := vhs
			if l == 1 {
				from = named
			}
			for _, vh := range from {
				if rnd.IntN(3) == 0 {
					lis.VirtualHosts = append(lis.VirtualHosts, vh)
				}
			}
			c.Listeners = append(c.Listeners, lis)
		}
		return c
	}
	all := append(slices.Clone(vhs), named...)
	before := make([][]*Route, len(all))
	for i, vh := range all {
		before[i] = slices.Clone(vh.Routes)
	}
	var p Pruner
	reused, reusedInList, sameBackends := 0, 0, 0
	for seed := range uint64(300) {
		got := draw(seed)
		prev := prunesLikePrune(t, &p, seed, got, draw(seed))
		for i, vh := range all {
			if !slices.Equal(vh.Routes, before[i]) {
				t.Fatalf("config %d: virtual host %s was written into", seed, vh.Name)
			}
		}
		if prev != nil {
			for _, l := range got.Listeners {
				for _, vh := range l.VirtualHosts {
					if _, ok := prev.vhosts[vh]; ok {
						reused++
					}
					if slices.Contains(prev.vhLists[l.Name], vh) {
						reusedInList++
					}
				}
			}
			if p.last.backends == prev.backends {
				sameBackends++
			}
		}
	}
	if reused == 0 || reusedInList == 0 || sameBackends == 0 {
		t.Fatalf("the Pruner remembered %d virtual hosts in its set and %d in its lists, and the secrets and clusters %d times: all must be exercised",
			reused, reusedInList, sameBackends)
	}
}

// TestMergeSharesSoleVirtualHosts: a listener no other fragment names
// keeps its virtual hosts (same pointers) when Merge need not change
// them, and Merge copies, never writes into, one whose routes it sorts or
// drops.
func TestMergeSharesSoleVirtualHosts(t *testing.T) {
	a := &VirtualHost{Name: "a", Hostnames: []string{"a.example.com"}, Routes: []*Route{route("r1", PathExact, "/x"), route("r2", PathPrefix, "/")}}
	b := &VirtualHost{Name: "b", Hostnames: []string{"b.example.com"}, Routes: []*Route{route("r3", PathPrefix, "/"), route("r4", PathExact, "/y")}}
	c := &VirtualHost{Name: "c", Hostnames: []string{"c.example.com"}, Routes: []*Route{route("r5", PathExact, "/z"), route("r6", PathExact, "/z")}}
	bRoutes, cRoutes := slices.Clone(b.Routes), slices.Clone(c.Routes)
	out, errs := Merge(&Config{Listeners: []*Listener{httpListener(a, b, c)}})
	vhs := out.Listeners[0].VirtualHosts
	if vhs[0] != a {
		t.Errorf("virtual host a, sorted and complete, was copied")
	}
	if vhs[1] == b || names(vhs[1].Routes) != "r4,r3" || !slices.Equal(b.Routes, bRoutes) {
		t.Errorf("virtual host b: got routes %s (shared %v), given ones now %s; want a sorted copy, the given ones untouched", names(vhs[1].Routes), vhs[1] == b, names(b.Routes))
	}
	if vhs[2] == c || names(vhs[2].Routes) != "r5" || !slices.Equal(c.Routes, cRoutes) || len(errs) != 1 {
		t.Errorf("virtual host c: got routes %s (shared %v), errors %v; want a copy without the unreachable r6", names(vhs[2].Routes), vhs[2] == c, errs)
	}
	// Two listeners of one name: joined into new virtual hosts.
	out, _ = Merge(&Config{Listeners: []*Listener{httpListener(a)}}, &Config{Listeners: []*Listener{httpListener(b)}})
	for _, vh := range out.Listeners[0].VirtualHosts {
		if vh == a || vh == b {
			t.Errorf("virtual host %s of a listener two fragments name was shared", vh.Name)
		}
	}
}

// prunesLikePrune prunes got with p and want with Prune (two copies of
// one config) and fails unless the errors and the configs left are the
// same; it returns what p remembered before.
func prunesLikePrune(t *testing.T, p *Pruner, seed uint64, got, want *Config) *pruneMemo {
	t.Helper()
	p.mu.Lock()
	prev := p.last
	p.mu.Unlock()
	gotErrs, wantErrs := p.Prune(got), want.Prune()
	if !reflect.DeepEqual(gotErrs, wantErrs) {
		t.Fatalf("config %d: errors\n%v\nwant\n%v", seed, gotErrs, wantErrs)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("config %d: the Pruner left a different Config than Prune", seed)
	}
	return prev
}
