package xds

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/legateproxy/legate/translators/ir"
)

// irEditor makes random copy-on-write edits to an IR Config, as translators
// hand it over between runs: every Listener and VirtualHost value is new
// each run, an unchanged Route, Cluster or Secret keeps its pointer, and a
// changed one is a new pointer (nothing given out before is written to).
type irEditor struct {
	rng *rand.Rand
	cfg *ir.Config
	// removed are clusters taken out of the Config (their routes still name
	// them, a dangling reference), to put back later.
	removed []*ir.Cluster
	n       int
}

// relisted is cfg with new Listener and VirtualHost values (and slices)
// holding the same routes, clusters and secrets, as the merge step makes
// every run.
func relisted(cfg *ir.Config) *ir.Config {
	out := &ir.Config{
		Clusters: slices.Clone(cfg.Clusters),
		Secrets:  slices.Clone(cfg.Secrets),
	}
	for _, l := range cfg.Listeners {
		nl := *l
		nl.VirtualHosts = nil
		for _, vh := range l.VirtualHosts {
			nv := *vh
			nv.Routes = slices.Clone(vh.Routes)
			nv.Hostnames = slices.Clone(vh.Hostnames)
			nl.VirtualHosts = append(nl.VirtualHosts, &nv)
		}
		out.Listeners = append(out.Listeners, &nl)
	}
	return out
}

// next returns the Config after one random edit and says what it was.
func (e *irEditor) next() (*ir.Config, string) {
	e.n++
	cfg := relisted(e.cfg)
	var vhosts []*ir.VirtualHost
	for _, l := range cfg.Listeners {
		vhosts = append(vhosts, l.VirtualHosts...)
	}
	var what string
	switch op := e.rng.IntN(10); {
	case op == 0 && len(vhosts) > 0:
		// A route changed in place: a new pointer at the same position.
		vh := vhosts[e.rng.IntN(len(vhosts))]
		if len(vh.Routes) == 0 {
			break
		}
		i := e.rng.IntN(len(vh.Routes))
		r := *vh.Routes[i]
		r.Match.Path = ir.PathMatch{Type: ir.PathPrefix, Value: fmt.Sprintf("/edit-%d/", e.n)}
		r.Match.Headers = append(slices.Clone(r.Match.Headers), ir.HeaderMatch{Name: "x-edit", Type: ir.MatchExact, Value: fmt.Sprint(e.n)})
		vh.Routes[i] = &r
		what = "route " + r.Name + " changed"
	case op == 1 && len(vhosts) > 0:
		// The same routes in another order.
		vh := vhosts[e.rng.IntN(len(vhosts))]
		e.rng.Shuffle(len(vh.Routes), func(i, j int) { vh.Routes[i], vh.Routes[j] = vh.Routes[j], vh.Routes[i] })
		slices.Reverse(vh.Routes)
		what = "routes of " + vh.Name + " reordered"
	case op == 2 && len(cfg.Clusters) > 0:
		// A cluster changed: its endpoints and timeout.
		i := e.rng.IntN(len(cfg.Clusters))
		c := *cfg.Clusters[i]
		c.ConnectTimeout = time.Duration(1+e.rng.IntN(9)) * time.Second
		if c.Kind == ir.ClusterEDS || c.Kind == ir.ClusterStatic {
			c.Endpoints = append(slices.Clone(c.Endpoints), ir.Endpoint{
				Address: fmt.Sprintf("10.9.%d.%d", e.n/200%200, e.n%200+1), Port: 8080, Ready: true,
			})
		}
		cfg.Clusters[i] = &c
		what = "cluster " + c.Name + " changed"
	case op == 3 && len(vhosts) > 1:
		// A route moves to another virtual host.
		from, to := vhosts[e.rng.IntN(len(vhosts))], vhosts[e.rng.IntN(len(vhosts))]
		if from == to || len(from.Routes) < 2 {
			break
		}
		i := e.rng.IntN(len(from.Routes))
		r := from.Routes[i]
		from.Routes = slices.Delete(from.Routes, i, i+1)
		to.Routes = append(to.Routes, r)
		what = "route " + r.Name + " moved from " + from.Name + " to " + to.Name
	case op == 4 && len(vhosts) > 0:
		// A virtual host gains a hostname.
		vh := vhosts[e.rng.IntN(len(vhosts))]
		if slices.Contains(vh.Hostnames, "*") {
			break
		}
		vh.Hostnames = append(vh.Hostnames, fmt.Sprintf("edit-%d.example.net", e.n))
		what = "hostname added to " + vh.Name
	case op == 5 && len(cfg.Clusters) > 1 && len(e.removed) == 0:
		// A cluster disappears while routes still use it: a dangling
		// reference, introduced away from the virtual hosts that make it.
		i := e.rng.IntN(len(cfg.Clusters))
		e.removed = append(e.removed, cfg.Clusters[i])
		what = "cluster " + cfg.Clusters[i].Name + " removed"
		cfg.Clusters = slices.Delete(cfg.Clusters, i, i+1)
	case op == 6 && len(e.removed) > 0:
		// The removed cluster comes back, the very pointer.
		cfg.Clusters = append(cfg.Clusters, e.removed...)
		slices.SortFunc(cfg.Clusters, func(a, b *ir.Cluster) int { return strings.Compare(a.Name, b.Name) })
		e.removed = nil
		what = "removed cluster restored"
	case op == 7 && len(vhosts) > 0:
		// A route is replaced by an equal copy: a new pointer, the same
		// content.
		vh := vhosts[e.rng.IntN(len(vhosts))]
		if len(vh.Routes) == 0 {
			break
		}
		i := e.rng.IntN(len(vh.Routes))
		r := *vh.Routes[i]
		vh.Routes[i] = &r
		what = "route " + r.Name + " copied"
	case op == 8 && len(vhosts) > 1:
		// A virtual host takes a hostname another one of its table has:
		// a domain twice (until it is dropped again).
		from, to := vhosts[e.rng.IntN(len(vhosts))], vhosts[e.rng.IntN(len(vhosts))]
		if from == to || len(from.Hostnames) == 0 {
			break
		}
		to.Hostnames = append(to.Hostnames, strings.ToUpper(from.Hostnames[0]))
		what = "hostname of " + from.Name + " added to " + to.Name
	case op == 9 && len(vhosts) > 0:
		// A virtual host loses its last hostname, if it has another.
		vh := vhosts[e.rng.IntN(len(vhosts))]
		if len(vh.Hostnames) < 2 {
			break
		}
		vh.Hostnames = vh.Hostnames[:len(vh.Hostnames)-1]
		what = "last hostname of " + vh.Name + " dropped"
	}
	if what == "" {
		what = "nothing but new listener and virtual host values"
	}
	e.cfg = cfg
	return cfg, what
}

// equalResources fails t unless a and b hold equal resources in the same
// order.
func equalResources(t *testing.T, step string, a, b *Resources) {
	t.Helper()
	check := func(kind string, x, y []proto.Message) {
		t.Helper()
		if len(x) != len(y) {
			t.Fatalf("%s: %d %s, a fresh Build made %d", step, len(x), kind, len(y))
		}
		for i := range x {
			if !proto.Equal(x[i], y[i]) {
				t.Fatalf("%s: %s %d differs from a fresh Build's:\n%v\nwant\n%v", step, kind, i, x[i], y[i])
			}
		}
	}
	check("listeners", asMessages(a.Listeners), asMessages(b.Listeners))
	check("route configurations", asMessages(decodedAll(a.Routes)), asMessages(decodedAll(b.Routes)))
	check("clusters", asMessages(decodedAll(a.Clusters)), asMessages(decodedAll(b.Clusters)))
	check("load assignments", asMessages(decodedAll(a.Endpoints)), asMessages(decodedAll(b.Endpoints)))
	check("secrets", asMessages(a.Secrets), asMessages(b.Secrets))
}

// A Builder and a Validator that remember the last run give, after random
// copy-on-write edits of the IR, exactly what a fresh Build and Validate
// give: equal resources, equal versions, the same errors.
func TestBuilderAndValidatorEqualFreshRuns(t *testing.T) {
	// What the edits led to, so that the test cannot silently stop
	// covering the paths that matter.
	var dangling, twice, passedAfterFailure int
	defer func() {
		if dangling == 0 || twice == 0 || passedAfterFailure == 0 {
			t.Errorf("the edits gave %d dangling references, %d domains twice and %d recoveries; each must happen", dangling, twice, passedAfterFailure)
		}
	}()
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			e := &irEditor{rng: rng, cfg: loadCase(t, name)}
			var b Builder
			var val Validator
			cfg := e.cfg
			what := "first run"
			for step := range 150 {
				label := fmt.Sprintf("step %d (%s)", step, what)
				got, gotErr := b.Build(cfg)
				want, wantErr := Build(cfg)
				if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
					t.Fatalf("%s: Builder: %v, Build: %v", label, gotErr, wantErr)
				}
				if gotErr == nil {
					equalResources(t, label, got, want)
					failedBefore := val.last != nil && !val.last.passed
					gotErr, wantErr = val.Validate(got), Validate(want)
					switch {
					case gotErr == nil && failedBefore:
						passedAfterFailure++
					case gotErr != nil && strings.Contains(gotErr.Error(), "does not exist"):
						dangling++
					case gotErr != nil && strings.Contains(gotErr.Error(), "is also a domain"):
						twice++
					}
					if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
						t.Fatalf("%s: a remembering Validator reported\n%v\nwhere Validate reported\n%v", label, gotErr, wantErr)
					}
					if gotErr == nil && !equalVersions(got.Versions(), want.Versions()) {
						t.Fatalf("%s: versions\n%+v\nwant\n%+v", label, got.Versions(), want.Versions())
					}
					// It remembers exactly what a fresh Validator would after
					// this snapshot: nothing of earlier ones.
					var fresh Validator
					_ = fresh.Validate(got)
					if !maps.EqualFunc(val.known, fresh.known, func(a, b *knownPart) bool { return a.digest == b.digest }) {
						t.Fatalf("%s: %d parts remembered, a fresh Validator remembers %d", label, len(val.known), len(fresh.known))
					}
					if gotErr == nil {
						sameEncodings(t, label, got)
						sameEncodings(t, label, want)
					}
				}
				cfg, what = e.next()
			}
		})
	}
}

// The Builder reuses what it built: after one route changed, every other
// virtual host, and every cluster and load assignment, is the very message
// of the previous output; the changed virtual host is new and holds the
// unchanged routes' messages.
func TestBuilderReusesUnchangedMessages(t *testing.T) {
	cfg := loadCase(t, "multi-vhost")
	var b Builder
	first, err := b.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	next := relisted(cfg)
	vh := next.Listeners[0].VirtualHosts[1] // foo.example.com, two routes
	r := *vh.Routes[0]
	r.Match.Path.Value = "/changed"
	vh.Routes[0] = &r
	second, err := b.Build(next)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, v := range first.Routes[0].VirtualHosts() {
		byName[v.GetName()] = i
	}
	for _, v := range second.Routes[0].VirtualHosts() {
		old := first.Routes[0].VirtualHosts()[byName[v.GetName()]]
		if v.GetName() == vh.Name {
			if v == old {
				t.Fatalf("virtual host %s was reused though its route changed", v.GetName())
			}
			continue
		}
		if v != old {
			t.Errorf("virtual host %s was built again though nothing in it changed", v.GetName())
		}
	}
	for i := range second.Clusters {
		if second.Clusters[i] != first.Clusters[i] || second.Endpoints[i] != first.Endpoints[i] {
			t.Errorf("cluster %s was built again though it did not change", second.Clusters[i].GetName())
		}
	}
}

// A remembering Validator checks the references of the messages it
// remembers against every new snapshot: a cluster removed from the IR,
// while the Builder hands over the very virtual host that routes to it,
// is reported exactly as a fresh Validate reports it.
func TestValidatorRechecksRememberedMessages(t *testing.T) {
	cfg := loadCase(t, "multi-vhost")
	var b Builder
	var val Validator
	res := buildValidated(t, &b, &val, cfg)
	without := *cfg
	without.Clusters = slices.DeleteFunc(slices.Clone(cfg.Clusters), func(c *ir.Cluster) bool { return c.Name == "default/foo/80" })
	broken, err := b.Build(&without)
	if err != nil {
		t.Fatal(err)
	}
	if broken.Routes[0].VirtualHosts()[1] != res.Routes[0].VirtualHosts()[1] {
		t.Fatal("the Builder did not reuse the virtual host, so this test would not test the remembered path")
	}
	warm, cold := val.Validate(broken), Validate(broken)
	if cold == nil {
		t.Fatal("Validate accepted a route to a missing cluster")
	}
	if warm == nil || warm.Error() != cold.Error() {
		t.Fatalf("a remembering Validator reported\n%v\nwhere Validate reported\n%v", warm, cold)
	}
	if !strings.Contains(warm.Error(), `cluster "default/foo/80" does not exist`) || !strings.Contains(warm.Error(), "virtual_hosts[1].routes[0]") {
		t.Errorf("the error does not name the cluster and the route's place:\n%v", warm)
	}
	// Back to the complete IR: accepted again, with the first run's versions.
	again, err := b.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Validate(again); err != nil {
		t.Fatalf("intact resources after a failure: %v", err)
	}
	if !equalVersions(again.Versions(), res.Versions()) {
		t.Errorf("versions changed for the same content:\n%+v\n%+v", again.Versions(), res.Versions())
	}
}

// sameEncodings fails t unless EncodeRoute gives, for every route
// configuration of res, the bytes of a deterministic proto.Marshal of its
// decoded message.
func sameEncodings(t *testing.T, step string, res *Resources) {
	t.Helper()
	for _, rc := range res.Routes {
		got, err := res.EncodeRoute(rc)
		if err != nil {
			t.Fatal(err)
		}
		m, err := rc.Message()
		if err != nil {
			t.Fatal(err)
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: route configuration %s: EncodeRoute gave %d bytes that differ from proto.Marshal's %d", step, rc.GetName(), len(got), len(want))
		}
	}
}

// Resources come out sorted by name whatever the IR's order, from a
// Builder (which reuses the last run's clusters) too.
func TestBuildSortsWhateverTheIROrder(t *testing.T) {
	cfg := loadCase(t, "multi-vhost")
	var b Builder
	for _, order := range []string{"as written", "reversed", "as written again"} {
		next := relisted(cfg)
		if order == "reversed" {
			slices.Reverse(next.Clusters)
		}
		for _, build := range []func(*ir.Config) (*Resources, error){Build, b.Build} {
			res, err := build(next)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Clusters) < 2 || !slices.IsSortedFunc(res.Clusters, func(a, b *Cluster) int { return strings.Compare(a.GetName(), b.GetName()) }) ||
				!slices.IsSortedFunc(res.Endpoints, func(a, b *LoadAssignment) int {
					return strings.Compare(a.GetName(), b.GetName())
				}) {
				t.Fatalf("IR clusters %s: clusters or load assignments not sorted by name", order)
			}
		}
	}
}
