package emissary

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators/ir"
)

// Emissary's documented defaults for health checks and circuit breakers.
const (
	defaultHCTimeout   = 3 * time.Second
	defaultHCInterval  = 5 * time.Second
	defaultHCUnhealthy = 2
	defaultHCHealthy   = 1
)

// defaultExpectedStatuses: Emissary documents that without
// expected_statuses only 5xx answers fail an HTTP health check.
var defaultExpectedStatuses = []ir.StatusRange{{Min: 100, Max: 499}}

// clusterSettings are the Mapping fields that shape a cluster. Emissary
// makes one cluster per service and settings, so Mappings that differ in
// any of them get clusters of their own.
type clusterSettings struct {
	connectTimeout   time.Duration
	idleTimeout      time.Duration
	protocol         ir.UpstreamProtocol
	loadBalancer     *ir.LoadBalancer
	circuitBreakers  []ir.CircuitBreaker
	healthChecks     []ir.HealthCheck
	outlierDetection *ir.OutlierDetection
	tls              *ir.UpstreamTLS
	// statsName is stats_name when set; otherwise the cluster gets
	// Emissary's default (see defaultStatsName), which does not make a
	// cluster of its own.
	statsName string
}

// suffix is empty for Emissary's defaults and otherwise a short hash of
// the settings, so that Mappings with different settings get different
// clusters of one service.
func (c clusterSettings) suffix() string {
	if c.connectTimeout == defaultConnectTimeout && c.idleTimeout == 0 && c.protocol == "" &&
		c.loadBalancer == nil && len(c.circuitBreakers) == 0 && len(c.healthChecks) == 0 &&
		c.outlierDetection == nil && c.statsName == "" && c.tls == nil {
		return ""
	}
	b, err := json.Marshal(struct {
		ConnectTimeout, IdleTimeout time.Duration
		Protocol                    ir.UpstreamProtocol
		LB                          *ir.LoadBalancer
		CB                          []ir.CircuitBreaker
		HC                          []ir.HealthCheck
		OD                          *ir.OutlierDetection
		Stats                       string
		TLS                         *ir.UpstreamTLS
	}{c.connectTimeout, c.idleTimeout, c.protocol, c.loadBalancer, c.circuitBreakers, c.healthChecks, c.outlierDetection, c.statsName, c.tls})
	if err != nil {
		panic(fmt.Sprintf("emissary: encoding cluster settings: %v", err)) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return "/" + hex.EncodeToString(sum[:4])
}

func (c clusterSettings) apply(cl *ir.Cluster, service string) *ir.Cluster {
	cl.Name += c.suffix()
	cl.ConnectTimeout = c.connectTimeout
	cl.IdleTimeout = c.idleTimeout
	cl.Protocol = c.protocol
	cl.LoadBalancer = c.loadBalancer
	cl.CircuitBreakers = c.circuitBreakers
	cl.HealthChecks = c.healthChecks
	cl.OutlierDetection = c.outlierDetection
	cl.StatsName = c.statsName
	cl.TLS = c.tls
	if cl.StatsName == "" {
		cl.StatsName = defaultStatsName(service)
	}
	return cl
}

// defaultStatsName is Emissary's default stats name of a cluster: the
// Mapping's service with every character that is not a letter or digit
// replaced by "_".
func defaultStatsName(service string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, service)
}

// clusterSettings reads the cluster-level fields of the Mapping; a field
// that is wrong leaves the Mapping out (ok false).
func (m *mapping) clusterSettings() (clusterSettings, bool) {
	sp := &m.obj.Spec
	cs := clusterSettings{connectTimeout: defaultConnectTimeout}
	ok := true
	fail := func(field, reason, format string, args ...any) {
		m.reject(field, reason, format, args...)
		ok = false
	}
	if sp.ConnectTimeoutMs != nil {
		ms := *sp.ConnectTimeoutMs
		if ms <= 0 || ms > 1<<40 {
			fail("spec.connect_timeout_ms", "InvalidTimeout", "connect_timeout_ms %d is not a positive number of milliseconds", ms)
		} else {
			cs.connectTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	if sp.ClusterIdleTimeoutMs != nil {
		// Emissary's default, one hour, is Envoy's; 0 turns it off.
		switch ms := *sp.ClusterIdleTimeoutMs; {
		case ms < 0 || ms > 1<<40:
			fail("spec.cluster_idle_timeout_ms", "InvalidTimeout", "cluster_idle_timeout_ms %d is out of range", ms)
		case ms == 0:
			cs.idleTimeout = -1
		default:
			cs.idleTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	if sp.GRPC != nil && *sp.GRPC {
		cs.protocol = ir.UpstreamHTTP2
	}
	if lb := sp.LoadBalancer; lb != nil {
		p, known := map[string]ir.LoadBalancerPolicy{
			"round_robin": ir.LBRoundRobin, "least_request": ir.LBLeastRequest,
			"ring_hash": ir.LBRingHash, "maglev": ir.LBMaglev,
		}[lb.Policy]
		if !known {
			fail("spec.load_balancer.policy", "InvalidLoadBalancer", "policy %q is not one of round_robin, least_request, ring_hash, maglev", lb.Policy)
		} else {
			cs.loadBalancer = &ir.LoadBalancer{Policy: p}
		}
	}
	cbs, cbOK := circuitBreakers(m, sp.CircuitBreakers)
	cs.circuitBreakers = cbs
	hcs, hcOK := m.healthChecks(cs.protocol)
	cs.healthChecks = hcs
	od, odOK := m.outlierDetection()
	cs.outlierDetection = od
	if sp.StatsName != "" {
		if strings.ContainsAny(sp.StatsName, "\x00\r\n") {
			fail("spec.stats_name", "InvalidStatsName", "stats_name contains a control character")
		}
		cs.statsName = sp.StatsName
	}
	return cs, ok && cbOK && hcOK && odOK
}

func circuitBreakers(m problems, in []*v3.CircuitBreaker) ([]ir.CircuitBreaker, bool) {
	var out []ir.CircuitBreaker
	seen := map[ir.Priority]bool{}
	ok := true
	for i, cb := range in {
		field := fmt.Sprintf("spec.circuit_breakers[%d]", i)
		if cb == nil {
			continue
		}
		c := ir.CircuitBreaker{Priority: ir.PriorityDefault}
		switch cb.Priority {
		case "", "default":
		case "high":
			c.Priority = ir.PriorityHigh
		default:
			m.reject(field+".priority", "InvalidCircuitBreaker", "priority %q is not default or high", cb.Priority)
			ok = false
			continue
		}
		if seen[c.Priority] {
			m.reject(field+".priority", "InvalidCircuitBreaker", "a second circuit breaker for priority %s", strings.ToLower(string(c.Priority)))
			ok = false
			continue
		}
		seen[c.Priority] = true
		for _, f := range []struct {
			name string
			in   *int
			out  **uint32
		}{
			{"max_connections", cb.MaxConnections, &c.MaxConnections},
			{"max_pending_requests", cb.MaxPendingRequests, &c.MaxPendingRequests},
			{"max_requests", cb.MaxRequests, &c.MaxRequests},
			{"max_retries", cb.MaxRetries, &c.MaxRetries},
		} {
			if f.in == nil {
				continue
			}
			if *f.in < 0 || int64(*f.in) > 1<<32-1 {
				m.reject(field+"."+f.name, "InvalidCircuitBreaker", "%s %d is out of range", f.name, *f.in)
				ok = false
				continue
			}
			v := uint32(*f.in)
			*f.out = &v
		}
		out = append(out, c)
	}
	return out, ok
}

func (m *mapping) healthChecks(protocol ir.UpstreamProtocol) ([]ir.HealthCheck, bool) {
	ok := true
	var out []ir.HealthCheck
	for i, hc := range m.obj.Spec.HealthChecks {
		field := fmt.Sprintf("spec.health_checks[%d]", i)
		fail := func(sub, format string, args ...any) {
			m.reject(field+sub, "InvalidHealthCheck", format, args...)
			ok = false
		}
		h := ir.HealthCheck{Timeout: defaultHCTimeout, Interval: defaultHCInterval, UnhealthyThreshold: defaultHCUnhealthy, HealthyThreshold: defaultHCHealthy}
		if hc.Timeout != nil {
			h.Timeout = hc.Timeout.Duration
		}
		if hc.Interval != nil {
			h.Interval = hc.Interval.Duration
		}
		if h.Timeout <= 0 || h.Interval <= 0 {
			fail("", "timeout and interval must be positive durations")
		}
		for _, th := range []struct {
			name string
			in   *int
			out  *uint32
		}{{"unhealthy_threshold", hc.UnhealthyThreshold, &h.UnhealthyThreshold}, {"healthy_threshold", hc.HealthyThreshold, &h.HealthyThreshold}} {
			if th.in == nil {
				continue
			}
			if *th.in < 1 || *th.in > 1<<20 {
				fail("."+th.name, "%s %d is not at least 1", th.name, *th.in)
				continue
			}
			*th.out = uint32(*th.in)
		}
		loc := hc.HealthCheckLocation
		switch {
		case loc.HTTP != nil && loc.GRPC != nil:
			fail(".health_check", "set http or grpc, not both")
		case loc.HTTP != nil:
			hh := &ir.HTTPHealthCheck{Path: loc.HTTP.Path, Host: loc.HTTP.Hostname, ExpectedStatuses: defaultExpectedStatuses}
			if !strings.HasPrefix(hh.Path, "/") || strings.ContainsAny(hh.Path, " \x00\r\n") {
				fail(".health_check.http.path", "path %q must start with / and contain no spaces or control characters", hh.Path)
			}
			if strings.ContainsAny(hh.Host, "/?#@ \x00\r\n") {
				fail(".health_check.http.hostname", "hostname %q is not a valid host", hh.Host)
			}
			if len(loc.HTTP.ExpectedStatuses) > 0 {
				hh.ExpectedStatuses = nil
			}
			for _, r := range loc.HTTP.ExpectedStatuses {
				if r.Min < 100 || r.Max > 599 || r.Min > r.Max {
					fail(".health_check.http.expected_statuses", "range %d-%d is not within 100-599 with min <= max", r.Min, r.Max)
					continue
				}
				hh.ExpectedStatuses = append(hh.ExpectedStatuses, ir.StatusRange{Min: r.Min, Max: r.Max})
			}
			sub := strings.TrimPrefix(field, "spec.") + ".health_check.http."
			hh.RequestHeaders = m.headerModifier(sub+"add_request_headers", loc.HTTP.AddRequestHeaders, sub+"remove_request_headers", loc.HTTP.RemoveRequestHeaders)
			ok = ok && m.ok
			h.HTTP = hh
		case loc.GRPC != nil:
			if protocol != ir.UpstreamHTTP2 {
				fail(".health_check.grpc", "a gRPC health check needs grpc: true on the Mapping (gRPC needs HTTP/2 to the service)")
			}
			if strings.ContainsAny(loc.GRPC.UpstreamName+loc.GRPC.Authority, "\x00\r\n") {
				fail(".health_check.grpc", "upstream_name or authority contains a control character")
			}
			h.GRPC = &ir.GRPCHealthCheck{ServiceName: loc.GRPC.UpstreamName, Authority: loc.GRPC.Authority}
		default:
			fail(".health_check", "set http or grpc")
		}
		out = append(out, h)
	}
	return out, ok
}

// outlierConfig is what Legate reads from outlier_detection. Emissary's
// CRD types the field as a string and documents no format; Legate reads it
// as a YAML (or JSON) object with Envoy's field names.
type outlierConfig struct {
	Consecutive5xx            *int   `json:"consecutive_5xx,omitempty"`
	ConsecutiveGatewayFailure *int   `json:"consecutive_gateway_failure,omitempty"`
	Interval                  string `json:"interval,omitempty"`
	BaseEjectionTime          string `json:"base_ejection_time,omitempty"`
	MaxEjectionPercent        *int   `json:"max_ejection_percent,omitempty"`
}

func (m *mapping) outlierDetection() (*ir.OutlierDetection, bool) {
	s := m.obj.Spec.OutlierDetection
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	const field = "spec.outlier_detection"
	var oc outlierConfig
	if err := yaml.UnmarshalStrict([]byte(s), &oc); err != nil {
		m.reject(field, "InvalidOutlierDetection", "want a YAML object with consecutive_5xx, consecutive_gateway_failure, interval, base_ejection_time, max_ejection_percent: %v", err)
		return nil, false
	}
	out := &ir.OutlierDetection{}
	ok := true
	for _, f := range []struct {
		name string
		in   *int
		out  **uint32
		max  int
	}{
		{"consecutive_5xx", oc.Consecutive5xx, &out.Consecutive5xx, 1 << 20},
		{"consecutive_gateway_failure", oc.ConsecutiveGatewayFailure, &out.ConsecutiveGatewayFailure, 1 << 20},
		{"max_ejection_percent", oc.MaxEjectionPercent, &out.MaxEjectionPercent, 100},
	} {
		if f.in == nil {
			continue
		}
		if *f.in < 0 || *f.in > f.max {
			m.reject(field, "InvalidOutlierDetection", "%s %d is not in 0-%d", f.name, *f.in, f.max)
			ok = false
			continue
		}
		v := uint32(*f.in)
		*f.out = &v
	}
	for _, f := range []struct {
		name, in string
		out      *time.Duration
	}{{"interval", oc.Interval, &out.Interval}, {"base_ejection_time", oc.BaseEjectionTime, &out.BaseEjectionTime}} {
		if f.in == "" {
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil || d <= 0 {
			m.reject(field, "InvalidOutlierDetection", "%s %q is not a positive duration such as \"10s\"", f.name, f.in)
			ok = false
			continue
		}
		*f.out = d
	}
	return out, ok
}

// routePolicies sets the route-level settings that are not filters of
// their own: hash policies (sticky sessions), idle timeout, upgrades and
// the annotations kept for diagnostics.
func (m *mapping) routePolicies() {
	sp := &m.obj.Spec
	f := &m.filters
	if lb := sp.LoadBalancer; lb != nil {
		n := 0
		if lb.Cookie != nil {
			n++
		}
		if lb.Header != "" {
			n++
		}
		if lb.SourceIP != nil && *lb.SourceIP {
			n++
		}
		hashing := lb.Policy == "ring_hash" || lb.Policy == "maglev"
		switch {
		case n > 1:
			m.reject("spec.load_balancer", "InvalidLoadBalancer", "set at most one of cookie, header and source_ip")
		case n == 1 && !hashing:
			m.warn("spec.load_balancer", "IgnoredField", "cookie, header and source_ip take effect only with policy ring_hash or maglev; ignored with %s", lb.Policy)
		case lb.Cookie != nil:
			c := &ir.CookieHash{Name: lb.Cookie.Name, Path: lb.Cookie.Path}
			if !validToken(c.Name) {
				m.reject("spec.load_balancer.cookie.name", "InvalidLoadBalancer", "cookie name %q is not valid", c.Name)
			}
			if c.Path != "" && (!strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, "; \x00\r\n")) {
				m.reject("spec.load_balancer.cookie.path", "InvalidLoadBalancer", "cookie path %q must start with / and contain no ;, spaces or control characters", c.Path)
			}
			if lb.Cookie.TTL != "" {
				d, err := time.ParseDuration(lb.Cookie.TTL)
				if err != nil || d < 0 {
					m.reject("spec.load_balancer.cookie.ttl", "InvalidLoadBalancer", "ttl %q is not a duration such as \"60s\"", lb.Cookie.TTL)
				}
				c.TTL = d
			}
			f.HashPolicies = []ir.HashPolicy{{Cookie: c}}
		case lb.Header != "":
			if !validToken(lb.Header) {
				m.reject("spec.load_balancer.header", "InvalidLoadBalancer", "header name %q is not valid", lb.Header)
			}
			// Envoy looks headers up in lower case.
			f.HashPolicies = []ir.HashPolicy{{Header: strings.ToLower(lb.Header)}}
		case n == 1:
			f.HashPolicies = []ir.HashPolicy{{SourceIP: true}}
		}
	}
	if sp.IdleTimeoutMs != nil {
		switch ms := *sp.IdleTimeoutMs; {
		case ms < 0 || ms > 1<<40:
			m.reject("spec.idle_timeout_ms", "InvalidTimeout", "idle_timeout_ms %d is out of range", ms)
		case ms == 0:
			f.IdleTimeout = -1
		default:
			f.IdleTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	upgrades := append([]string(nil), sp.AllowUpgrade...)
	if sp.UseWebsocket != nil && *sp.UseWebsocket {
		m.warn("spec.use_websocket", "Deprecated", "use_websocket is deprecated; it means allow_upgrade: [websocket]")
		upgrades = append(upgrades, "websocket")
	}
	seen := map[string]bool{}
	for _, u := range upgrades {
		key := strings.ToLower(u)
		if seen[key] {
			continue
		}
		seen[key] = true
		if !ir.ValidUpgrade(u) {
			m.reject("spec.allow_upgrade", "InvalidUpgrade", "%q is not a protocol name", u)
			continue
		}
		f.Upgrades = append(f.Upgrades, key)
	}
	m.annotations()
}

// annotations keeps the Mapping fields that configure services Legate does
// not run (AuthService, RateLimitService, the developer portal) on the
// route, so that diagnostics show them and they are not lost.
func (m *mapping) annotations() {
	sp := &m.obj.Spec
	a := map[string]string{}
	if sp.BypassAuth != nil {
		a["bypass_auth"] = fmt.Sprint(*sp.BypassAuth)
	}
	for k, v := range sp.AuthContextExtensions {
		a["auth_context_extensions."+k] = v
	}
	if len(sp.Labels) > 0 {
		b, err := json.Marshal(sp.Labels)
		if err != nil {
			m.reject("spec.labels", "InvalidLabels", "labels cannot be encoded: %v", err)
		} else {
			a["labels"] = string(b)
		}
	}
	if d := sp.Docs; d != nil {
		for k, v := range map[string]string{"path": d.Path, "url": d.URL, "display_name": d.DisplayName} {
			if v != "" {
				a["docs."+k] = v
			}
		}
		if d.Ignored != nil {
			a["docs.ignored"] = fmt.Sprint(*d.Ignored)
		}
		if d.TimeoutMs != nil {
			a["docs.timeout_ms"] = fmt.Sprint(*d.TimeoutMs)
		}
	}
	for k, v := range a {
		if strings.ContainsAny(k+v, "\x00") || !utf8.ValidString(k+v) {
			m.reject("spec", "InvalidAnnotation", "%s is not valid UTF-8 text", k)
			delete(a, k)
		}
	}
	if len(a) > 0 {
		m.annotationsOut = a
	}
}

func timeSeconds(s int64) time.Duration {
	if s > 1<<32 {
		s = 1 << 32
	}
	return time.Duration(s) * time.Second
}
