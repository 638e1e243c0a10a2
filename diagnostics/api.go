package diagnostics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"

	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
)

// badRequest marks an error caused by the request, answered with 400.
type badRequest struct{ error }

func (s *Server) jsonHandler(f func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		if err != nil {
			code := http.StatusInternalServerError
			if _, ok := err.(badRequest); ok {
				code = http.StatusBadRequest
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// ExplainQuery is a request to explain, with the listener it arrives on.
type ExplainQuery struct {
	Request
	// Listener names the listener (or route configuration); Port picks the
	// listener by port. Without either, the HTTP listener (or the HTTPS one
	// for scheme https) is used.
	Listener string `json:"listener,omitempty"`
	Port     uint32 `json:"port,omitempty"`
}

// ParseExplainQuery reads method, scheme, host, path, header (repeated,
// "name: value"), query (repeated, "name=value", appended to path),
// listener and port.
func ParseExplainQuery(v url.Values) (ExplainQuery, error) {
	q := ExplainQuery{Request: Request{
		Method: strings.ToUpper(v.Get("method")), Scheme: strings.ToLower(v.Get("scheme")),
		Host: v.Get("host"), Path: v.Get("path"),
	}, Listener: v.Get("listener")}
	if q.Path == "" {
		q.Path = "/"
	}
	if !strings.HasPrefix(q.Path, "/") {
		return q, badRequest{fmt.Errorf("path %q must start with /", q.Path)}
	}
	for _, h := range v["header"] {
		if strings.TrimSpace(h) == "" {
			continue
		}
		name, val, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return q, badRequest{fmt.Errorf("header %q: want name: value", h)}
		}
		q.Headers = append(q.Headers, Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(val)})
	}
	var extra []string
	for _, p := range v["query"] {
		if strings.TrimSpace(p) == "" {
			continue
		}
		name, val, _ := strings.Cut(p, "=")
		extra = append(extra, url.QueryEscape(name)+"="+url.QueryEscape(val))
	}
	if len(extra) > 0 {
		sep := "?"
		if strings.Contains(q.Path, "?") {
			sep = "&"
		}
		q.Path += sep + strings.Join(extra, "&")
	}
	if p := v.Get("port"); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return q, badRequest{fmt.Errorf("port %q: %w", p, err)}
		}
		q.Port = uint32(n)
	}
	return q, nil
}

func (s *Server) explain(q ExplainQuery) (Explanation, error) {
	cur, _ := s.current()
	if cur == nil || cur.out.Resources == nil {
		return Explanation{}, fmt.Errorf("no configuration published yet")
	}
	return ExplainResources(cur.out.Resources, cur.out.IR, q)
}

// ExplainResources explains q against published resources: it picks the
// route configurations of the listener q arrives on and evaluates the one
// whose virtual hosts cover q.Host most specifically (HTTPS listeners have
// one route configuration per certificate, chosen by SNI).
func ExplainResources(res *xds.Resources, cfg *ir.Config, q ExplainQuery) (Explanation, error) {
	cands := candidateRouteConfigs(res, cfg, q)
	if len(cands) == 0 {
		return Explanation{}, badRequest{fmt.Errorf("no HTTP route configuration for listener %q port %d scheme %q", q.Listener, q.Port, q.Scheme)}
	}
	best := cands[0]
	bestRank := 0
	for _, rc := range cands {
		vh, d := SelectVirtualHost(rc, q.Host)
		rank := 0
		switch {
		// A chain whose 421 answers the host is the wrong certificate's:
		// a client sends the host as its server name, so another chain
		// gets the request.
		case vh == nil, vh.GetName() == xds.MisdirectedVirtualHost:
		case d == "*":
			rank = 1
		default:
			rank = 2
		}
		if rank > bestRank {
			best, bestRank = rc, rank
		}
	}
	req := q.Request
	if err := checkEscapes(req.Path); err != nil {
		return Explanation{}, badRequest{err}
	}
	req.Path = NormalizePath(req.Path)
	return Explain(best, req), nil
}

// checkEscapes refuses a path with a malformed percent-encoding, which
// Envoy answers with 400 before any route is looked at.
func checkEscapes(target string) error {
	path, _, _ := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		if i+2 >= len(path) {
			return fmt.Errorf("path %q: truncated percent-encoding; Envoy answers 400 Bad Request", target)
		}
		if _, ok := unhex(path[i+1], path[i+2]); !ok {
			return fmt.Errorf("path %q: invalid percent-encoding %q; Envoy answers 400 Bad Request", target, path[i:i+3])
		}
	}
	return nil
}

func candidateRouteConfigs(res *xds.Resources, cfg *ir.Config, q ExplainQuery) []*routev3.RouteConfiguration {
	belongs := func(rc, listener string) bool {
		return rc == xds.HTTPRouteConfigName(listener) || strings.HasPrefix(rc, listener+"/")
	}
	var listeners []string
	switch {
	case q.Listener != "":
		listeners = []string{q.Listener}
	case cfg != nil:
		wantTLS := q.Scheme == "https"
		var fallback []string
		for _, l := range cfg.Listeners {
			switch {
			case q.Port != 0:
				if l.Port == q.Port {
					listeners = append(listeners, l.Name)
				}
			case (l.Protocol == ir.ProtocolHTTPS) == wantTLS && (l.Protocol == ir.ProtocolHTTP || l.Protocol == ir.ProtocolHTTPS):
				// The main listeners are named after their protocol; Gateway
				// listeners only when no main one exists.
				if strings.HasPrefix(l.Name, strings.ToLower(string(l.Protocol))+"-") {
					listeners = append(listeners, l.Name)
				} else {
					fallback = append(fallback, l.Name)
				}
			}
		}
		if len(listeners) == 0 {
			listeners = fallback
		}
	}
	var out []*routev3.RouteConfiguration
	for _, rc := range res.Routes {
		for _, l := range listeners {
			if belongs(rc.GetName(), l) {
				// Decoded on demand: route configurations are kept
				// encoded, and an explanation is asked for rarely.
				if m, err := rc.Message(); err == nil {
					out = append(out, m)
				}
				break
			}
		}
	}
	return out
}

// Diff is what changed between the last two published snapshots.
type Diff struct {
	From    string   `json:"from,omitempty"`
	To      string   `json:"to,omitempty"`
	Changes []Change `json:"changes"`
}

// Change is one resource added, removed or changed.
type Change struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Change string `json:"change"` // "added", "removed" or "changed"
}

func (s *Server) diff() Diff {
	cur, prev := s.current()
	d := Diff{Changes: []Change{}}
	if cur == nil {
		return d
	}
	d.To = cur.version
	var before *xds.Resources
	if prev != nil {
		d.From = prev.version
		before = prev.out.Resources
	}
	d.Changes = DiffResources(before, cur.out.Resources)
	return d
}

// sameResource says whether two resources of a type (messages, or
// resources kept encoded, whose encodings are deterministic) have the same
// content.
func sameResource(a, b any) bool {
	if a == b {
		return true
	}
	type encoded interface{ Encoding() ([]byte, error) }
	if x, ok := a.(encoded); ok {
		y, ok := b.(encoded)
		if !ok {
			return false
		}
		xw, errX := x.Encoding()
		yw, errY := y.Encoding()
		return errX == nil && errY == nil && bytes.Equal(xw, yw)
	}
	return proto.Equal(a.(proto.Message), b.(proto.Message))
}

// DiffResources compares two resource sets by type and name. Only names
// are reported, so a changed Secret shows as changed without its contents.
func DiffResources(before, after *xds.Resources) []Change {
	out := []Change{}
	byName := func(r *xds.Resources) map[string]map[string]any {
		m := map[string]map[string]any{"listener": {}, "route": {}, "cluster": {}, "endpoint": {}, "secret": {}}
		if r == nil {
			return m
		}
		for _, x := range r.Listeners {
			m["listener"][x.GetName()] = x
		}
		for _, x := range r.Routes {
			m["route"][x.GetName()] = x
		}
		for _, x := range r.Clusters {
			m["cluster"][x.GetName()] = x
		}
		for _, x := range r.Endpoints {
			m["endpoint"][x.GetName()] = x
		}
		for _, x := range r.Secrets {
			m["secret"][x.GetName()] = x
		}
		return m
	}
	b, a := byName(before), byName(after)
	for _, typ := range []string{"listener", "route", "cluster", "endpoint", "secret"} {
		names := map[string]bool{}
		for n := range b[typ] {
			names[n] = true
		}
		for n := range a[typ] {
			names[n] = true
		}
		for _, n := range sortedKeys(names) {
			old, had := b[typ][n]
			nw, has := a[typ][n]
			switch {
			case !had:
				out = append(out, Change{Type: typ, Name: n, Change: "added"})
			case !has:
				out = append(out, Change{Type: typ, Name: n, Change: "removed"})
			case !sameResource(old, nw):
				out = append(out, Change{Type: typ, Name: n, Change: "changed"})
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
