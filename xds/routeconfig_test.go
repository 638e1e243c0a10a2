package xds

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"

	"github.com/legateproxy/legate/translators/ir"
)

// irVirtualHosts lists cfg's virtual hosts by the route configuration
// they may be in: a listener's own (HTTP) or one of its TLS ones, whose
// names start with the listener's.
func irVirtualHosts(cfg *ir.Config, rcName string) map[string][]*ir.VirtualHost {
	out := map[string][]*ir.VirtualHost{}
	for _, l := range cfg.Listeners {
		if rcName != HTTPRouteConfigName(l.Name) && !strings.HasPrefix(rcName, l.Name+"/") {
			continue
		}
		for _, vh := range l.VirtualHosts {
			out[vh.Name] = append(out[vh.Name], vh)
		}
	}
	return out
}

// builtVirtualHostMessage builds vh's message from the IR directly, as
// Build did before virtual hosts were kept encoded.
func builtVirtualHostMessage(t *testing.T, vh *ir.VirtualHost) *routev3.VirtualHost {
	t.Helper()
	out := &routev3.VirtualHost{Name: vh.Name, Domains: Domains(vh.Hostnames)}
	for _, r := range vh.Routes {
		route, err := buildRoute(r)
		if err != nil {
			t.Fatal(err)
		}
		out.Routes = append(out.Routes, route)
	}
	return out
}

// checkKeptRoutes fails t unless every route configuration of res reads
// back, decoded, as the messages the IR makes, and is served (EncodeRoute)
// as the deterministic encoding of that message.
func checkKeptRoutes(t *testing.T, step string, cfg *ir.Config, res *Resources) {
	t.Helper()
	for _, rc := range res.Routes {
		byName := irVirtualHosts(cfg, rc.GetName())
		msg, err := rc.Message()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if len(msg.GetVirtualHosts()) != len(rc.VirtualHosts()) {
			t.Fatalf("%s: %s decodes to %d virtual hosts, %d are kept", step, rc.GetName(), len(msg.GetVirtualHosts()), len(rc.VirtualHosts()))
		}
		for _, vh := range msg.GetVirtualHosts() {
			if vh.GetName() == MisdirectedVirtualHost {
				continue
			}
			found := false
			for _, irVH := range byName[vh.GetName()] {
				found = found || proto.Equal(vh, builtVirtualHostMessage(t, irVH))
			}
			if !found {
				t.Errorf("%s: %s: virtual host %s is not the one its IR makes:\n%v", step, rc.GetName(), vh.GetName(), vh)
			}
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := res.EncodeRoute(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %s is served as %d bytes that are not the encoding of its message (%d bytes)", step, rc.GetName(), len(got), len(want))
		}
	}
}

// sameServedRoutes fails t unless a and b serve the same bytes for every
// route configuration, with the same versions.
func sameServedRoutes(t *testing.T, step string, a, b *Resources) {
	t.Helper()
	if len(a.Routes) != len(b.Routes) {
		t.Fatalf("%s: %d route configurations, a fresh build has %d", step, len(a.Routes), len(b.Routes))
	}
	for i := range a.Routes {
		x, errX := a.EncodeRoute(a.Routes[i])
		y, errY := b.EncodeRoute(b.Routes[i])
		if errX != nil || errY != nil || !bytes.Equal(x, y) {
			t.Errorf("%s: %s is served differently from a fresh build's (%v, %v)", step, a.Routes[i].GetName(), errX, errY)
		}
	}
	if !equalVersions(a.Versions(), b.Versions()) {
		t.Errorf("%s: versions differ from a fresh build's:\n%+v\n%+v", step, a.Versions(), b.Versions())
	}
}

// Route configurations are kept as their virtual hosts' encodings: for
// every golden case, what is kept reads back as what the IR makes, and is
// served as its encoding, from Build and from a Builder's second run
// (which reuses every virtual host).
func TestKeptRoutesAreWhatBuildMakes(t *testing.T) {
	for _, name := range goldenCases(t) {
		cfg := loadCase(t, name)
		fresh := buildCase(t, name)
		checkKeptRoutes(t, name, cfg, fresh)

		var b Builder
		var val Validator
		for _, run := range []string{"first run", "second run"} {
			res, err := b.Build(relisted(cfg))
			if err != nil {
				t.Fatal(err)
			}
			if err := val.Validate(res); err != nil {
				t.Fatalf("%s, %s: %v", name, run, err)
			}
			checkKeptRoutes(t, name+", "+run, cfg, res)
			sameServedRoutes(t, name+", "+run, res, fresh)
		}
	}
}

// After an edit that changes a virtual host, removes one and adds one, a
// Builder and a remembering Validator serve what a fresh build serves,
// sharing the virtual host that did not change.
func TestKeptRoutesAfterAnEdit(t *testing.T) {
	cfg := loadCase(t, "multi-vhost")
	var b Builder
	var val Validator
	first := buildValidated(t, &b, &val, cfg)

	next := relisted(cfg)
	vhosts := next.Listeners[0].VirtualHosts // wildcard, foo.example.com, catch-all
	changed := vhosts[1]
	r := *changed.Routes[0]
	r.Match.Path.Value = "/changed"
	changed.Routes[0] = &r
	added := &ir.VirtualHost{Name: "new.example.com", Hostnames: []string{"new.example.com"}, Routes: vhosts[2].Routes}
	next.Listeners[0].VirtualHosts = []*ir.VirtualHost{changed, vhosts[2], added}

	second := buildValidated(t, &b, &val, next)
	fresh, err := Build(next)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(fresh); err != nil {
		t.Fatal(err)
	}
	checkKeptRoutes(t, "after the edit", next, second)
	sameServedRoutes(t, "after the edit", second, fresh)

	kept := func(res *Resources) map[string]*VirtualHost {
		out := map[string]*VirtualHost{}
		for _, vh := range res.Routes[0].VirtualHosts() {
			out[vh.GetName()] = vh
		}
		return out
	}
	before, after := kept(first), kept(second)
	if _, ok := after["wildcard"]; ok {
		t.Error("the removed virtual host is still kept")
	}
	if after["new.example.com"] == nil {
		t.Error("the added virtual host is not kept")
	}
	if after["catch-all"] != before["catch-all"] {
		t.Error("the unchanged virtual host was not shared with the last build")
	}
	if after["foo.example.com"] == before["foo.example.com"] {
		t.Error("the changed virtual host was shared with the last build")
	}
}

// A virtual host's domains read from its encoding are those of its
// message, for every virtual host of every golden case; a malformed
// encoding has none.
func TestEncodedDomainsAreTheMessages(t *testing.T) {
	seen := 0
	for _, name := range goldenCases(t) {
		for _, rc := range buildCase(t, name).Routes {
			for _, vh := range rc.VirtualHosts() {
				wire, err := vh.Encoding()
				if err != nil {
					t.Fatal(err)
				}
				m, err := vh.Message()
				if err != nil {
					t.Fatal(err)
				}
				got, want := encodedDomains(wire), m.GetDomains()
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s: domains %q from the encoding, %q from the message", name, vh.GetName(), got, want)
				}
				if len(want) > 0 {
					seen++
				}
				if d := encodedDomains(wire[:len(wire)-1]); d != nil && len(wire) > 0 && !slices.Equal(d, want) {
					// A cut encoding either fails to read (nil) or still
					// holds every domain (the cut fell after them).
					t.Errorf("%s: %s: a cut encoding reads as domains %q", name, vh.GetName(), d)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no golden case has a virtual host with domains")
	}
	if d := encodedDomains([]byte{0x12, 0x05, 'a'}); d != nil {
		t.Errorf("a domain longer than its encoding reads as %q", d)
	}
}

// A build hands validation the messages of the virtual hosts it made
// anew, and validation drops them: what stays is the encodings. A second
// build that reuses every virtual host has none to hand over.
func TestValidationDropsTheBuildsMessages(t *testing.T) {
	cfg := loadCase(t, "multi-vhost")
	var b Builder
	var val Validator
	res, err := b.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rc := range res.Routes {
		for _, vh := range rc.VirtualHosts() {
			m := res.fresh[vh]
			if m == nil {
				t.Fatalf("virtual host %s made anew is not handed to validation", vh.GetName())
			}
			wire, _ := vh.Encoding()
			if enc, err := (proto.MarshalOptions{Deterministic: true}).Marshal(m); err != nil || !bytes.Equal(enc, wire) {
				t.Fatalf("virtual host %s: the message handed over is not the one kept", vh.GetName())
			}
			n++
		}
	}
	if len(res.fresh) != n {
		t.Errorf("%d messages handed over for %d virtual hosts", len(res.fresh), n)
	}
	if err := val.Validate(res); err != nil {
		t.Fatal(err)
	}
	if res.fresh != nil {
		t.Error("validation kept the build's messages")
	}
	again, err := b.Build(relisted(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.fresh) != 0 {
		t.Errorf("a build that made no virtual host anew hands over %d messages", len(again.fresh))
	}
}

// buildValidated builds cfg with b and validates the result with val,
// failing the test on an error of either.
func buildValidated(t *testing.T, b *Builder, val *Validator, cfg *ir.Config) *Resources {
	t.Helper()
	res, err := b.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Validate(res); err != nil {
		t.Fatal(err)
	}
	return res
}
