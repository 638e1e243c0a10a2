package server

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"

	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
)

// deltaClient plays the delta server's part for one stream and one type:
// it keeps the subscription, cancels the open watch before each request,
// and records what each response sent.
type deltaClient struct {
	t      *testing.T
	create func(*cachev3.DeltaRequest, cachev3.Subscription, chan cachev3.DeltaResponse) (func(), error)
	sub    *stream.Subscription
	out    chan cachev3.DeltaResponse
	cancel func()
	got    []deltaSeen
}

// deltaSeen is one response, as a client sees it.
type deltaSeen struct {
	sent    map[string]string // name -> version
	removed []string
	next    map[string]string
}

func (c *deltaClient) request(typeURL string, subscribe, unsubscribe []string, nonce string) {
	c.t.Helper()
	if c.cancel != nil {
		c.cancel()
	}
	if c.sub == nil {
		s := stream.NewDeltaSubscription(subscribe, unsubscribe, nil, true)
		c.sub = &s
	} else {
		c.sub.UpdateResourceSubscriptions(subscribe, unsubscribe)
	}
	req := &discovery.DeltaDiscoveryRequest{Node: &core.Node{Id: "n", Cluster: DefaultGroup}, TypeUrl: typeURL,
		ResourceNamesSubscribe: subscribe, ResourceNamesUnsubscribe: unsubscribe, ResponseNonce: nonce}
	cancel, err := c.create(req, *c.sub, c.out)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cancel = cancel
}

// drain takes the responses sent, as the delta server does.
func (c *deltaClient) drain() {
	c.t.Helper()
	for {
		select {
		case r := <-c.out:
			resp, err := r.GetDeltaDiscoveryResponse()
			if err != nil {
				c.t.Fatal(err)
			}
			// The next versions as they were then: a cache may write
			// the next response's into the same map.
			seen := deltaSeen{sent: map[string]string{}, removed: slices.Sorted(slices.Values(resp.GetRemovedResources())), next: maps.Clone(r.GetNextVersionMap())}
			for _, x := range resp.GetResources() {
				seen.sent[x.GetName()] = x.GetVersion()
			}
			c.got = append(c.got, seen)
			c.sub.SetReturnedResources(r.GetNextVersionMap())
		default:
			return
		}
	}
}

// Legate's delta cache answers exactly as go-control-plane's snapshot
// cache does (the same resources and versions sent, the same removals, the
// same next versions, a response exactly when that cache sends one), over
// 400 random steps: publishes that change endpoints in place (answered
// from what changed), add and remove clusters (answered from a look at
// everything), and client requests that acknowledge, subscribe and
// unsubscribe, on a wildcard and a named subscription.
func TestDeltaCacheAnswersAsTheSnapshotCache(t *testing.T) {
	srv := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ref := cachev3.NewSnapshotCache(false, groupHash{defaultGroup: DefaultGroup}, nil)
	ours := newDeltaCache()
	rng := rand.New(rand.NewPCG(26, 11))

	endpoints := map[string]int{}
	for i := range 40 {
		endpoints[fmt.Sprintf("svc-%02d", i)] = 1
	}
	incremental := 0
	publish := func() {
		t.Helper()
		cfg := &ir.Config{}
		for _, name := range slices.Sorted(maps.Keys(endpoints)) {
			cfg.Clusters = append(cfg.Clusters, &ir.Cluster{Name: name, Kind: ir.ClusterEDS,
				Endpoints: []ir.Endpoint{{Address: fmt.Sprintf("10.0.0.%d", endpoints[name]), Port: 80, Ready: true}}})
		}
		res, err := xds.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		prev := srv.groups[DefaultGroup]
		if _, _, err := srv.Publish("", res); err != nil {
			t.Fatal(err)
		}
		now := srv.groups[DefaultGroup]
		if now == prev {
			return
		}
		// A type versioned from the last publish's versions has the
		// version a look at all its resources gives.
		for typeURL, pt := range now.types {
			fresh := &publishedType{wrapped: pt.wrapped}
			if err := fresh.versionAll(pt.each); err != nil {
				t.Fatal(err)
			}
			if fresh.version != pt.version || !maps.Equal(fresh.each.Map(), pt.each.Map()) {
				t.Fatalf("%s: version %s, %s from all resources", typeURL, pt.version, fresh.version)
			}
			if pt.changedFrom != nil && prev != nil && prev.types[typeURL] != pt {
				incremental++
			}
		}
		changed := func(typeURL string) bool { return prev == nil || prev.versions[typeURL] != now.versions[typeURL] }
		if err := ref.SetSnapshot(t.Context(), DefaultGroup, now.snapshot); err != nil {
			t.Fatal(err)
		}
		ours.set(DefaultGroup, now.snapshot, changed)
	}
	publish()

	type pair struct{ ref, ours *deltaClient }
	newPair := func() pair {
		mk := func(create func(*cachev3.DeltaRequest, cachev3.Subscription, chan cachev3.DeltaResponse) (func(), error)) *deltaClient {
			return &deltaClient{t: t, create: create, out: make(chan cachev3.DeltaResponse, 10)}
		}
		return pair{
			ref: mk(ref.CreateDeltaWatch),
			ours: mk(func(r *cachev3.DeltaRequest, s cachev3.Subscription, o chan cachev3.DeltaResponse) (func(), error) {
				return ours.CreateDeltaWatch(r, s, o, DefaultGroup)
			}),
		}
	}
	wildcard, named := newPair(), newPair()
	both := func(p pair, f func(*deltaClient)) { f(p.ref); f(p.ours) }
	both(wildcard, func(c *deltaClient) { c.request(resource.EndpointType, nil, nil, "") })
	both(named, func(c *deltaClient) {
		c.request(resource.EndpointType, []string{"svc-01", "svc-02", "svc-03", "nope"}, nil, "")
	})

	compare := func(step int, p pair) {
		t.Helper()
		if len(p.ref.got) != len(p.ours.got) {
			t.Fatalf("step %d: the snapshot cache sent %d responses, Legate's delta cache %d", step, len(p.ref.got), len(p.ours.got))
		}
		for i := range p.ref.got {
			a, b := p.ref.got[i], p.ours.got[i]
			if !maps.Equal(a.sent, b.sent) || !slices.Equal(a.removed, b.removed) || !maps.Equal(a.next, b.next) {
				t.Fatalf("step %d, response %d:\nsnapshot cache sent %v removed %v next %d\nLegate's sent      %v removed %v next %d",
					step, i, a.sent, a.removed, len(a.next), b.sent, b.removed, len(b.next))
			}
		}
	}
	randomName := func() string { return fmt.Sprintf("svc-%02d", rng.IntN(50)) }
	for step := range 400 {
		switch r := rng.IntN(10); {
		case r < 5: // endpoints change in place
			for range 1 + rng.IntN(3) {
				if name := randomName(); endpoints[name] != 0 {
					endpoints[name] = 1 + rng.IntN(200)
				}
			}
			publish()
		case r < 6: // a cluster comes or goes
			name := randomName()
			if endpoints[name] != 0 {
				delete(endpoints, name)
			} else {
				endpoints[name] = 7
			}
			publish()
		case r < 8: // acknowledgements
			for _, p := range []pair{wildcard, named} {
				both(p, func(c *deltaClient) { c.request(resource.EndpointType, nil, nil, "ack") })
			}
		default: // the named client changes what it subscribes to
			sub, unsub := []string{randomName()}, []string{randomName()}
			both(named, func(c *deltaClient) { c.request(resource.EndpointType, sub, unsub, "ack") })
		}
		for _, p := range []pair{wildcard, named} {
			// As Envoy does, the client acknowledges every response,
			// which opens the next watch.
			for {
				seen := len(p.ref.got)
				p.ref.drain()
				p.ours.drain()
				compare(step, p)
				if len(p.ref.got) == seen {
					break
				}
				both(p, func(c *deltaClient) { c.request(resource.EndpointType, nil, nil, "ack") })
			}
		}
	}
	if n := len(wildcard.ours.got); n < 100 {
		t.Fatalf("only %d responses to the wildcard client: the steps did not exercise the cache", n)
	}
	// Most watches were answered from what changed, not from a look at
	// everything.
	if ours.looks*3 > ours.answers {
		t.Fatalf("%d of %d watches needed a look at everything", ours.looks, ours.answers)
	}
	t.Logf("%d watches, %d looked at everything; %d types versioned from what changed", ours.answers, ours.looks, incremental)
	if incremental < 100 {
		t.Fatalf("only %d types versioned from what changed", incremental)
	}
}
