package emissary

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/legateproxy/legate/translators/ir"
)

// placement puts routes on listeners and virtual hosts.
//
// Without any Host, each Mapping's route goes to a virtual host named
// after its hostname on every cleartext HTTP listener, as Legate served
// Mappings before Hosts (Emissary would add a "*" Host with a self-signed
// certificate and redirect to HTTPS; Legate makes up no certificate).
//
// With Hosts, a route goes to the virtual host of every Host whose
// hostname overlaps the Mapping's and whose mappingSelector (if any)
// matches the Mapping's labels, on every listener that binds the Host:
// with its TLS on an HTTPS listener; on a cleartext one as its insecure
// action says (Route serves it, Redirect and Reject answer every request
// but ACME challenges with a redirect to HTTPS or a 400). When the Host's
// hostname is wider than the Mapping's, an ":authority" match narrows the
// route to the Mapping's hostname.
type placement struct {
	tr        *translation
	listeners map[string]*ir.Listener
	vhosts    map[string]*ir.VirtualHost // by listener name + "\x00" + vhost name
}

func newPlacement(tr *translation) *placement {
	p := &placement{tr: tr, listeners: map[string]*ir.Listener{}, vhosts: map[string]*ir.VirtualHost{}}
	// Every Host is served on its listeners even without routes: its
	// certificate, its redirect to HTTPS.
	for _, h := range tr.hosts {
		for _, l := range tr.listeners {
			if !l.binds(h) {
				continue
			}
			switch {
			case l.protocol == ir.ProtocolHTTPS:
				if h.tls != nil {
					p.vhost(l, h.hostname, h.tls)
				}
			case l.secure() || h.additionalPort == -1:
			case h.action == actionRedirect || h.action == actionReject:
				vh := p.vhost(l, h.hostname, nil)
				r := &ir.Route{
					Name:   "host/" + h.obj.Namespace + "/" + h.obj.Name + "/insecure",
					Source: h.rep.source("spec.requestPolicy.insecure.action"),
					Match:  ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
				}
				if h.action == actionRedirect {
					r.Redirect = &ir.Redirect{Scheme: "https", StatusCode: 301}
				} else {
					r.DirectResponse = &ir.DirectResponse{StatusCode: 400}
				}
				vh.Routes = append(vh.Routes, r)
			}
		}
	}
	return p
}

// listener returns the IR listener of l, made on first use.
func (p *placement) listener(l *listener) *ir.Listener {
	il, ok := p.listeners[l.name]
	if !ok {
		il = &ir.Listener{Name: l.name, Address: p.tr.settings.ListenAddress, Port: l.port, Protocol: l.protocol, StatPrefix: l.statsPrefix}
		if l.rep != nil {
			src := l.rep.source("spec")
			il.Source = &src
		}
		p.listeners[l.name] = il
	}
	return il
}

func (p *placement) vhost(l *listener, name string, tls *ir.TLSConfig) *ir.VirtualHost {
	il := p.listener(l)
	key := l.name + "\x00" + name
	vh, ok := p.vhosts[key]
	if !ok {
		vh = &ir.VirtualHost{Name: name, Hostnames: []string{name}, TLS: tls}
		p.vhosts[key] = vh
		il.VirtualHosts = append(il.VirtualHosts, vh)
	}
	return vh
}

// acmeChallenge is where HTTP-01 challenges arrive; they are always
// insecure, so they are routed even where insecure requests are not.
const acmeChallenge = "/.well-known/acme-challenge/"

// add places r, the route of Mappings with hostname glob whose first is m;
// it reports whether any listener took it.
func (p *placement) add(r *ir.Route, glob string, m *mapping) bool {
	// A Mapping is a predicate on the request's host: it keeps serving a
	// hostname it covers that another source claims more specifically.
	r.MatchesNarrowerHosts = true
	placed := false
	if len(p.tr.hosts) == 0 {
		for _, l := range p.tr.listeners {
			if l.protocol == ir.ProtocolHTTP {
				vh := p.vhost(l, glob, nil)
				vh.Routes = append(vh.Routes, r)
				placed = true
			}
		}
		return placed
	}
	acme := r.Match.Path.Type != ir.PathRegex && strings.HasPrefix(r.Match.Path.Value, acmeChallenge)
	for _, h := range p.tr.hosts {
		if !globsOverlap(glob, h.hostname) || (h.selector != nil && !h.selector.Matches(labels.Set(m.obj.Labels))) {
			continue
		}
		rr := r
		if am := authorityMatch(glob, h.hostname); am != nil {
			c := *r
			c.Match.Headers = append(slices.Clone(r.Match.Headers), *am)
			rr = &c
		}
		for _, l := range p.tr.listeners {
			if !l.binds(h) {
				continue
			}
			switch {
			case l.protocol == ir.ProtocolHTTPS:
				if h.tls == nil {
					continue
				}
				p.vhost(l, h.hostname, h.tls).Routes = append(p.vhost(l, h.hostname, h.tls).Routes, rr)
			case l.secure() || (h.additionalPort != -1 && (h.action == actionRoute || acme)):
				vh := p.vhost(l, h.hostname, nil)
				vh.Routes = append(vh.Routes, rr)
			case p.trustsXFP(l):
				// A proxy in front terminated TLS: the requests it marks
				// https are secure and routed; the others get the Host's
				// redirect or 400.
				c := *rr
				c.Match.Headers = append(slices.Clone(rr.Match.Headers), ir.HeaderMatch{Name: "x-forwarded-proto", Type: ir.MatchExact, Value: "https"})
				vh := p.vhost(l, h.hostname, nil)
				vh.Routes = append(vh.Routes, &c)
			default:
				// Insecure requests get the Host's redirect or 400.
			}
			placed = true
		}
	}
	return placed
}

// result returns the listeners, sorted by name, with their virtual hosts
// sorted and routes in evaluation order. The ambassador Module's
// connection settings, if any, go on every HTTP and HTTPS listener of
// Emissary's, even one without virtual hosts: in Emissary they hold for
// the whole Envoy listener, and the shared listeners also serve the
// Ingresses and Gateways that join them.
//
// A Listener's l7Depth and statsPrefix go on its own listener, which then
// exists even without virtual hosts too.
func (p *placement) result() []*ir.Listener {
	for _, l := range p.tr.listeners {
		if l.protocol != ir.ProtocolHTTP && l.protocol != ir.ProtocolHTTPS {
			continue
		}
		if hc := p.httpConnection(l); hc != nil {
			p.listener(l).HTTPConnection = hc
		} else if l.statsPrefix != "" {
			p.listener(l)
		}
	}
	var out []*ir.Listener
	for _, n := range sortedKeys(p.listeners) {
		l := p.listeners[n]
		slices.SortFunc(l.VirtualHosts, func(a, b *ir.VirtualHost) int { return strings.Compare(a.Name, b.Name) })
		for _, vh := range l.VirtualHosts {
			ir.SortRoutes(vh.Routes)
		}
		out = append(out, l)
	}
	return out
}

// httpConnection is the connection settings of l: the ambassador
// Module's, with the Listener's l7Depth, when set, as the number of
// trusted hops. Emissary 2 and later read only l7Depth (the Module's
// xff_num_trusted_hops is Emissary 1's setting); Legate keeps the
// Module's value for listeners whose l7Depth is 0 or unset.
func (p *placement) httpConnection(l *listener) *ir.HTTPConnection {
	hc := p.tr.httpConn
	if l.l7Depth == 0 {
		return hc
	}
	out := &ir.HTTPConnection{}
	if hc != nil {
		*out = *hc
	}
	out.XFFNumTrustedHops = l.l7Depth
	out.Source = l.rep.source("spec.l7Depth")
	return out
}

// trustsXFP reports whether requests on the cleartext listener l are
// secure or not by their X-Forwarded-Proto: with the XFP security model,
// once Envoy trusts proxies in front (l7Depth, or the Module's
// xff_num_trusted_hops), it keeps the X-Forwarded-Proto they set instead
// of writing the connection's own scheme.
func (p *placement) trustsXFP(l *listener) bool {
	if l.protocol != ir.ProtocolHTTP || l.security != "XFP" {
		return false
	}
	hc := p.httpConnection(l)
	return hc != nil && hc.XFFNumTrustedHops > 0
}
