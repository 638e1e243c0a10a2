package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
)

// dropCluster removes the cluster named name and its load assignment.
func dropCluster(res *Resources, name string) {
	res.Clusters = slices.DeleteFunc(res.Clusters, func(c *Cluster) bool { return c.GetName() == name })
	res.Endpoints = slices.DeleteFunc(res.Endpoints, func(e *LoadAssignment) bool {
		return e.GetName() == name
	})
}

// A virtual host the Validator remembers is not walked again, but its
// references are: removing the cluster it routes to must be reported, at
// the same place and in the same words as a full validation, even when the
// host moved to another index of its table.
func TestValidatorRechecksReferencesOfRememberedParts(t *testing.T) {
	var val Validator
	if err := val.Validate(buildCase(t, "multi-vhost")); err != nil {
		t.Fatal(err)
	}
	for _, shift := range []bool{false, true} {
		res := buildCase(t, "multi-vhost")
		dropCluster(res, "default/foo/80")
		if shift {
			// An extra host in front: every remembered host's index moves.
			rc := res.Routes[0]
			extra := NewVirtualHost(&routev3.VirtualHost{Name: "first", Domains: []string{"first.example.com"}})
			res.Routes[0] = newRouteConfiguration(rc.shell, append([]*VirtualHost{extra}, rc.VirtualHosts()...))
		}
		cold := Validate(res)
		if cold == nil {
			t.Fatal("Validate accepted a route to a missing cluster")
		}
		warm := val.Validate(res)
		if warm == nil || warm.Error() != cold.Error() {
			t.Fatalf("shift %v: a warm Validator reported\n%v\nwhere Validate reported\n%v", shift, warm, cold)
		}
		want := []string{`RouteConfiguration "http-80"`, "virtual_hosts[1].routes[0].route", `cluster "default/foo/80" does not exist`}
		if shift {
			want[1] = "virtual_hosts[2].routes[0].route"
		}
		if !mentions(warm, want) {
			t.Errorf("shift %v: no error mentions all of %q:\n%v", shift, want, warm)
		}
		if !strings.Contains(warm.Error(), `route "`) {
			t.Errorf("shift %v: the error does not name the route:\n%v", shift, warm)
		}
	}
	// The cluster back: the same Validator accepts again.
	if err := val.Validate(buildCase(t, "multi-vhost")); err != nil {
		t.Fatalf("intact resources after a failure: %v", err)
	}
}

// Versions name every resource, stay the same for the same content and
// change only for the resource whose content changed.
func TestValidatorVersions(t *testing.T) {
	var val Validator
	a := buildCase(t, "multi-vhost")
	if err := val.Validate(a); err != nil {
		t.Fatal(err)
	}
	va := a.Versions()
	if va == nil {
		t.Fatal("no versions after a successful Validate")
	}
	if len(va.Listeners) != len(a.Listeners) || len(va.Routes) != len(a.Routes) ||
		len(va.Clusters) != len(a.Clusters) || va.Endpoints.Len() != len(a.Endpoints) {
		t.Fatalf("versions %+v do not name every resource", va)
	}
	// Outside route tables, a version is the hash go-control-plane puts
	// on the wire for the resource in delta xDS.
	for _, c := range decodedAll(a.Clusters) {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if v := va.Clusters[c.GetName()]; v != hex.EncodeToString(sum[:]) {
			t.Errorf("cluster %q: version %q, want the hex SHA-256 of its encoding", c.GetName(), v)
		}
	}

	// The same content from a fresh Validator: the same versions.
	b := buildCase(t, "multi-vhost")
	if err := Validate(b); err != nil {
		t.Fatal(err)
	}
	if !equalVersions(va, b.Versions()) {
		t.Errorf("same content, different versions:\n%+v\n%+v", va, b.Versions())
	}

	// One route's path changes: only its table's version changes.
	c := buildCase(t, "multi-vhost")
	editRoute(c, 0, func(rc *routev3.RouteConfiguration) {
		rc.VirtualHosts[1].Routes[0].Match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/changed/"}
	})
	if err := val.Validate(c); err != nil {
		t.Fatal(err)
	}
	vc := c.Versions()
	if vc.Routes["http-80"] == va.Routes["http-80"] {
		t.Error("the changed route table kept its version")
	}
	vc.Routes["http-80"] = va.Routes["http-80"]
	if !equalVersions(va, vc) {
		t.Errorf("an unchanged resource changed version:\n%+v\n%+v", va, vc)
	}
}

func equalVersions(a, b *Versions) bool {
	eq := func(x, y map[string]string) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if y[k] != v {
				return false
			}
		}
		return true
	}
	return eq(a.Listeners, b.Listeners) && eq(a.Routes, b.Routes) && eq(a.Clusters, b.Clusters) &&
		eq(a.Endpoints.Map(), b.Endpoints.Map()) && eq(a.Secrets, b.Secrets)
}

// The Validator remembers the parts of the last snapshot only, so its
// memory follows the configuration's size, not its history.
func TestValidatorForgetsOldParts(t *testing.T) {
	var val Validator
	for i := range 5 {
		res := buildCase(t, "multi-vhost")
		editRoute(res, 0, func(rc *routev3.RouteConfiguration) {
			rc.VirtualHosts[0].Routes[0].Match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/v" + string(rune('0'+i))}
		})
		if err := val.Validate(res); err != nil {
			t.Fatal(err)
		}
		parts := len(res.Listeners) + len(res.Clusters) + len(res.Endpoints) + len(res.Secrets)
		for _, rc := range res.Routes {
			parts += 1 + len(rc.VirtualHosts())
		}
		if len(val.known) > parts {
			t.Fatalf("snapshot %d: %d parts remembered, the snapshot has %d", i, len(val.known), parts)
		}
	}
}
