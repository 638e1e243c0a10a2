// Package diagnostics is Legate's admin server: a read-only JSON API and
// server-rendered pages that show what Legate built from its inputs, what
// is wrong with them, and which route a given request takes (the
// explainer, evaluated on the published Envoy route tables). It never shows
// Secret contents: only Secret names ever leave it.
package diagnostics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

// Options configure a Server.
type Options struct {
	// Clients lists the connected Envoys (the xDS server's Clients); nil
	// shows none.
	Clients func() []server.ClientInfo
	// Metrics, if set, is listed (name, type, help) on the metrics page and
	// at /api/v1/metrics, so the page documents what /metrics exports.
	Metrics prometheus.Gatherer
	// EnvoyAdmin is the base URL of a locally attached Envoy's admin
	// interface (e.g. "http://127.0.0.1:9901"). When set, the clusters page
	// shows each cluster's hosts with their health as that Envoy sees them.
	EnvoyAdmin string
	// Pprof serves /debug/pprof/.
	Pprof  bool
	Logger *slog.Logger
	// Now is the clock for "built at"; time.Now if nil.
	Now func() time.Time
}

// snapshot is one published configuration. It is never modified after
// Update stored it.
type snapshot struct {
	out     *pipeline.Output
	version string
	builtAt time.Time
}

// Server is the admin server. Its zero value is not usable; use New.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu   sync.RWMutex
	cur  *snapshot
	prev *snapshot
}

// New returns a Server with no configuration yet.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.routes()
	return s
}

// Update records a published pipeline output with its snapshot version.
// The output must not be modified afterwards. Publishing the same version
// again (an unchanged snapshot) keeps the diff between the last two
// different versions.
func (s *Server) Update(out *pipeline.Output, version string) {
	if out == nil {
		return
	}
	snap := &snapshot{out: out, version: version, builtAt: s.opts.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.cur.version != version {
		s.prev = s.cur
	}
	s.cur = snap
}

func (s *Server) current() (cur, prev *snapshot) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur, s.prev
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves on lis until ctx is done.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(lis)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return fmt.Errorf("admin server: %w", err)
}

// ErrNotLoopback is returned by Listen for an address that is not a
// loopback one when remote access was not allowed.
var ErrNotLoopback = errors.New("not a loopback address; the admin server shows the whole configuration, allow remote access explicitly to bind it")

// Listen opens the admin address. The admin server tells anyone who can
// reach it the whole routing configuration, so an address that is not a
// loopback one is refused unless allowRemote says it is meant.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", addr, err)
	}
	if !allowRemote && !isLoopback(host) {
		return nil, fmt.Errorf("admin address %q: %w", addr, ErrNotLoopback)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin server: %w", err)
	}
	return lis, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/v1/overview", s.jsonHandler(func(r *http.Request) (any, error) { return s.overview(), nil }))
	s.mux.HandleFunc("GET /api/v1/routes", s.jsonHandler(func(r *http.Request) (any, error) { return s.routeTables(), nil }))
	s.mux.HandleFunc("GET /api/v1/problems", s.jsonHandler(func(r *http.Request) (any, error) { return s.problems(), nil }))
	s.mux.HandleFunc("GET /api/v1/clusters", s.jsonHandler(func(r *http.Request) (any, error) { return s.clusters(r.Context()), nil }))
	s.mux.HandleFunc("GET /api/v1/diff", s.jsonHandler(func(r *http.Request) (any, error) { return s.diff(), nil }))
	s.mux.HandleFunc("GET /api/v1/explain", s.jsonHandler(func(r *http.Request) (any, error) {
		q, err := ParseExplainQuery(r.URL.Query())
		if err != nil {
			return nil, err
		}
		return s.explain(q)
	}))
	s.mux.HandleFunc("GET /api/v1/metrics", s.jsonHandler(func(r *http.Request) (any, error) { return s.metrics() }))
	s.mux.HandleFunc("GET /metrics-help", s.page("metrics", func(*http.Request) any { m, _ := s.metrics(); return m }))
	s.mux.HandleFunc("GET /{$}", s.page("overview", func(*http.Request) any { return s.overview() }))
	s.mux.HandleFunc("GET /routes", s.page("routes", func(*http.Request) any { return s.routeTables() }))
	s.mux.HandleFunc("GET /problems", s.page("problems", func(*http.Request) any { return s.problems() }))
	s.mux.HandleFunc("GET /clusters", s.page("clusters", func(r *http.Request) any { return s.clusters(r.Context()) }))
	s.mux.HandleFunc("GET /diff", s.page("diff", func(*http.Request) any { return s.diff() }))
	s.mux.HandleFunc("GET /explain", s.page("explain", func(r *http.Request) any { return s.explainPage(r) }))
	if s.opts.Pprof {
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
}

// Overview is the summary page's content.
type Overview struct {
	Version     string      `json:"version,omitempty"`
	BuiltAt     *time.Time  `json:"builtAt,omitempty"`
	Translation string      `json:"translationTime,omitempty"`
	Inputs      []KindCount `json:"inputs"`
	Resources   Counts      `json:"resources"`
	Envoys      []Envoy     `json:"envoys"`
}

// KindCount counts the objects of one kind that Legate reported on.
type KindCount struct {
	Kind    string `json:"kind"`
	Valid   int    `json:"valid"`
	Invalid int    `json:"invalid"`
	// Warnings counts valid objects with warnings.
	Warnings int `json:"warnings"`
}

// Counts are the sizes of the published configuration.
type Counts struct {
	Listeners    int `json:"listeners"`
	RouteConfigs int `json:"routeConfigs"`
	VirtualHosts int `json:"virtualHosts"`
	Routes       int `json:"routes"`
	Clusters     int `json:"clusters"`
	Endpoints    int `json:"endpoints"`
	Secrets      int `json:"secrets"`
}

// Envoy is one connected xDS stream.
type Envoy struct {
	NodeID    string            `json:"nodeId"`
	Group     string            `json:"group"`
	StreamID  int64             `json:"streamId"`
	Delta     bool              `json:"delta,omitempty"`
	Connected time.Time         `json:"connected"`
	Acked     map[string]string `json:"acked,omitempty"`
	NACKs     []NACK            `json:"nacks,omitempty"`
}

// NACK is a rejection by an Envoy.
type NACK struct {
	TypeURL string    `json:"typeUrl"`
	Version string    `json:"version,omitempty"`
	Error   string    `json:"error"`
	Count   int       `json:"count"`
	Time    time.Time `json:"time"`
}

func (s *Server) overview() Overview {
	cur, _ := s.current()
	ov := Overview{Inputs: []KindCount{}, Envoys: []Envoy{}}
	if s.opts.Clients != nil {
		for _, c := range s.opts.Clients() {
			e := Envoy{NodeID: c.NodeID, Group: c.Group, StreamID: c.StreamID, Delta: c.Delta, Connected: c.Connected, Acked: c.Acked}
			for _, n := range c.NACKs {
				e.NACKs = append(e.NACKs, NACK{TypeURL: n.TypeURL, Version: n.Version, Error: n.Error, Count: n.Count, Time: n.Time})
			}
			ov.Envoys = append(ov.Envoys, e)
		}
	}
	if cur == nil {
		return ov
	}
	ov.Version = cur.version
	t := cur.builtAt
	ov.BuiltAt = &t
	ov.Translation = cur.out.Duration.String()
	byKind := map[string]*KindCount{}
	for _, st := range cur.out.Statuses {
		k := byKind[st.Object.Kind]
		if k == nil {
			k = &KindCount{Kind: st.Object.Kind}
			byKind[st.Object.Kind] = k
		}
		switch {
		case !st.Accepted():
			k.Invalid++
		case len(st.Problems) > 0:
			k.Valid++
			k.Warnings++
		default:
			k.Valid++
		}
	}
	for _, k := range byKind {
		ov.Inputs = append(ov.Inputs, *k)
	}
	slices.SortFunc(ov.Inputs, func(a, b KindCount) int { return cmp.Compare(a.Kind, b.Kind) })
	if res := cur.out.Resources; res != nil {
		ov.Resources = Counts{Listeners: len(res.Listeners), RouteConfigs: len(res.Routes), Clusters: len(res.Clusters), Secrets: len(res.Secrets)}
		for _, rc := range res.Routes {
			ov.Resources.VirtualHosts += len(rc.VirtualHosts())
			for _, k := range rc.VirtualHosts() {
				// Decoded one at a time, as load assignments below.
				if vh, err := k.Message(); err == nil {
					ov.Resources.Routes += len(vh.GetRoutes())
				}
			}
		}
		for _, a := range res.Endpoints {
			// Decoded one at a time: the overview is asked for rarely.
			cla, err := a.Message()
			if err != nil {
				continue
			}
			for _, le := range cla.GetEndpoints() {
				ov.Resources.Endpoints += len(le.GetLbEndpoints())
			}
		}
	}
	return ov
}

// RouteTable is one RouteConfiguration as Envoy evaluates it.
type RouteTable struct {
	RouteConfig  string      `json:"routeConfig"`
	Listener     string      `json:"listener"`
	Port         uint32      `json:"port,omitempty"`
	VirtualHosts []VHostView `json:"virtualHosts"`
}

// VHostView is one virtual host with its routes in evaluation order.
type VHostView struct {
	Name    string      `json:"name"`
	Domains []string    `json:"domains"`
	Routes  []RouteView `json:"routes"`
}

// RouteView is one route: what it matches, what it does, where it came from.
type RouteView struct {
	Index   int        `json:"index"`
	Name    string     `json:"name"`
	Match   string     `json:"match"`
	Action  Action     `json:"action"`
	Filters []string   `json:"filters,omitempty"`
	Source  *ir.Source `json:"source,omitempty"`
	// Annotations are what the source said about the route beyond routing:
	// a Mapping's docs and labels, a Gateway API rule's name.
	Annotations map[string]string `json:"annotations,omitempty"`
}

func (s *Server) routeTables() []RouteTable {
	cur, _ := s.current()
	out := []RouteTable{}
	if cur == nil || cur.out.Resources == nil {
		return out
	}
	irRoutes := map[string]*ir.Route{}
	owner := map[string]*ir.Listener{}
	if cur.out.IR != nil {
		for _, l := range cur.out.IR.Listeners {
			owner[xds.HTTPRouteConfigName(l.Name)] = l
			for _, vh := range l.VirtualHosts {
				owner[xds.RouteConfigName(l.Name, vh.Name)] = l
				for _, r := range vh.Routes {
					irRoutes[r.Name] = r
				}
			}
		}
	}
	for _, rc := range cur.out.Resources.Routes {
		t := RouteTable{RouteConfig: rc.GetName(), Listener: rc.GetName(), VirtualHosts: []VHostView{}}
		if l := owner[rc.GetName()]; l != nil {
			t.Listener, t.Port = l.Name, l.Port
		}
		for _, k := range rc.VirtualHosts() {
			// Virtual hosts are kept encoded: decoded one at a time.
			vh, err := k.Message()
			if err != nil {
				continue
			}
			v := VHostView{Name: vh.GetName(), Domains: vh.GetDomains(), Routes: []RouteView{}}
			for i, r := range vh.GetRoutes() {
				rv := RouteView{Index: i, Name: r.GetName(), Match: DescribeMatch(r.GetMatch()), Action: routeAction(r)}
				if ir := irRoutes[r.GetName()]; ir != nil {
					src := ir.Source
					rv.Source = &src
					rv.Filters = describeFilters(ir.Filters)
					rv.Annotations = ir.Annotations
				}
				v.Routes = append(v.Routes, rv)
			}
			t.VirtualHosts = append(t.VirtualHosts, v)
		}
		out = append(out, t)
	}
	return out
}

// describeFilters lists a route's request and response changes for people.
func describeFilters(f ir.Filters) []string {
	var out []string
	hm := func(dir string, m *ir.HeaderModifier) {
		if m == nil {
			return
		}
		for _, h := range m.Set {
			out = append(out, fmt.Sprintf("%s header set %s: %s", dir, h.Name, h.Value))
		}
		for _, h := range m.Add {
			out = append(out, fmt.Sprintf("%s header add %s: %s", dir, h.Name, h.Value))
		}
		for _, n := range m.Remove {
			out = append(out, fmt.Sprintf("%s header remove %s", dir, n))
		}
	}
	hm("request", f.RequestHeaders)
	hm("response", f.ResponseHeaders)
	if rw := f.Rewrite; rw != nil {
		if rw.Hostname != "" {
			out = append(out, "rewrite host to "+rw.Hostname)
		}
		if rw.FullPath != "" {
			out = append(out, "rewrite path to "+rw.FullPath)
		}
		if rw.PrefixReplace != "" {
			out = append(out, "rewrite matched prefix to "+rw.PrefixReplace)
		}
	}
	for _, m := range f.Mirrors {
		p := m.Percent
		if p == 0 {
			p = 100
		}
		out = append(out, fmt.Sprintf("mirror %g%% to %s", p, m.Cluster))
	}
	switch {
	case f.Timeout > 0:
		out = append(out, "timeout "+f.Timeout.String())
	case f.Timeout < 0:
		out = append(out, "no timeout")
	}
	if r := f.Retry; r != nil {
		out = append(out, fmt.Sprintf("retry %d times on %s", r.NumRetries, strings.Join(r.On, ",")))
	}
	return out
}

// ProblemView is one problem of one object.
type ProblemView struct {
	Object   string `json:"object"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Field    string `json:"field,omitempty"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
}

func (s *Server) problems() []ProblemView {
	cur, _ := s.current()
	out := []ProblemView{}
	if cur == nil {
		return out
	}
	for _, st := range cur.out.Statuses {
		for _, p := range st.Problems {
			out = append(out, ProblemView{Object: st.Object.String(), Kind: st.Object.Kind, Severity: string(p.Severity),
				Field: p.Field, Reason: p.Reason, Message: p.Message})
		}
	}
	return out
}

// ClusterView is one backend and its endpoints.
type ClusterView struct {
	Name      string        `json:"name"`
	Kind      string        `json:"kind"`
	Source    ir.Source     `json:"source"`
	Protocol  string        `json:"protocol,omitempty"`
	DNS       string        `json:"dns,omitempty"`
	Endpoints []ir.Endpoint `json:"endpoints"`
	// EnvoyHosts is what the attached Envoy reports for this cluster (nil
	// without Options.EnvoyAdmin, empty if Envoy does not know the cluster).
	EnvoyHosts []EnvoyHost `json:"envoyHosts,omitempty"`
}

// ClustersView is the clusters page: Legate's clusters and, when an Envoy
// is attached, the error reaching its admin interface if there was one.
type ClustersView struct {
	Clusters   []ClusterView `json:"clusters"`
	EnvoyAdmin string        `json:"envoyAdmin,omitempty"`
	EnvoyError string        `json:"envoyError,omitempty"`
}

func (s *Server) clusters(ctx context.Context) ClustersView {
	cur, _ := s.current()
	out := ClustersView{Clusters: []ClusterView{}, EnvoyAdmin: s.opts.EnvoyAdmin}
	if cur == nil || cur.out.IR == nil {
		return out
	}
	var hosts map[string][]EnvoyHost
	if s.opts.EnvoyAdmin != "" {
		var err error
		if hosts, err = envoyClusterHosts(ctx, http.DefaultClient, s.opts.EnvoyAdmin); err != nil {
			out.EnvoyError = err.Error()
		}
	}
	for _, c := range cur.out.IR.Clusters {
		v := ClusterView{Name: c.Name, Kind: string(c.Kind), Source: c.Source, Protocol: string(c.Protocol),
			Endpoints: append([]ir.Endpoint{}, c.Endpoints...)}
		if c.DNSName != "" {
			v.DNS = fmt.Sprintf("%s:%d", c.DNSName, c.DNSPort)
		}
		if hosts != nil {
			v.EnvoyHosts = append([]EnvoyHost{}, hosts[c.Name]...)
		}
		out.Clusters = append(out.Clusters, v)
	}
	slices.SortFunc(out.Clusters, func(a, b ClusterView) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// MetricView documents one Prometheus metric family.
type MetricView struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Help string `json:"help"`
}

func (s *Server) metrics() ([]MetricView, error) {
	out := []MetricView{}
	if s.opts.Metrics == nil {
		return out, nil
	}
	fams, err := s.opts.Metrics.Gather()
	if err != nil {
		return out, fmt.Errorf("gathering metrics: %w", err)
	}
	for _, f := range fams {
		out = append(out, MetricView{Name: f.GetName(), Type: strings.ToLower(f.GetType().String()), Help: f.GetHelp()})
	}
	slices.SortFunc(out, func(a, b MetricView) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}
