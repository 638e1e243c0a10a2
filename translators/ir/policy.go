package ir

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds the cluster-level policies (how Envoy picks, limits,
// checks and ejects the endpoints of a cluster) and the route-level
// settings that go with them (hash policies, upgrades, regex rewrites).

// LoadBalancerPolicy is how a cluster picks an endpoint for a request.
type LoadBalancerPolicy string

const (
	LBRoundRobin   LoadBalancerPolicy = "RoundRobin"
	LBLeastRequest LoadBalancerPolicy = "LeastRequest"
	// LBRingHash and LBMaglev are consistent hashing: the route's
	// HashPolicies say what is hashed (sticky sessions).
	LBRingHash LoadBalancerPolicy = "RingHash"
	LBMaglev   LoadBalancerPolicy = "Maglev"
)

// LoadBalancer is a cluster's load balancing policy.
type LoadBalancer struct {
	Policy LoadBalancerPolicy `json:"policy"`
}

// HashPolicy says what a consistent-hash cluster hashes for one request;
// exactly one of Header, Cookie and SourceIP is set.
type HashPolicy struct {
	// Header hashes the value of this request header.
	Header   string      `json:"header,omitempty"`
	Cookie   *CookieHash `json:"cookie,omitempty"`
	SourceIP bool        `json:"sourceIP,omitempty"`
}

// CookieHash hashes a cookie. With a TTL, Envoy sets the cookie on the
// response when the request had none, so the next request sticks.
type CookieHash struct {
	Name string        `json:"name"`
	TTL  time.Duration `json:"ttl,omitempty"`
	Path string        `json:"path,omitempty"`
}

// Priority is an Envoy routing priority, for circuit breakers.
type Priority string

const (
	PriorityDefault Priority = "Default"
	PriorityHigh    Priority = "High"
)

// CircuitBreaker caps what Envoy sends a cluster at one priority; a nil
// limit keeps Envoy's default (1024 connections, pending and requests, 3
// retries).
type CircuitBreaker struct {
	Priority           Priority `json:"priority"`
	MaxConnections     *uint32  `json:"maxConnections,omitempty"`
	MaxPendingRequests *uint32  `json:"maxPendingRequests,omitempty"`
	MaxRequests        *uint32  `json:"maxRequests,omitempty"`
	MaxRetries         *uint32  `json:"maxRetries,omitempty"`
}

// HealthCheck is an active health check of a cluster's endpoints; exactly
// one of HTTP, GRPC and TCP is set.
type HealthCheck struct {
	Timeout            time.Duration `json:"timeout"`
	Interval           time.Duration `json:"interval"`
	UnhealthyThreshold uint32        `json:"unhealthyThreshold"`
	HealthyThreshold   uint32        `json:"healthyThreshold"`

	HTTP *HTTPHealthCheck `json:"http,omitempty"`
	GRPC *GRPCHealthCheck `json:"grpc,omitempty"`
	// TCP checks only that a connection can be made.
	TCP bool `json:"tcp,omitempty"`
}

// HTTPHealthCheck sends a request and expects a status in one of the
// ranges.
type HTTPHealthCheck struct {
	Path string `json:"path"`
	// Host header of the check; empty means the cluster's name (Envoy).
	Host             string          `json:"host,omitempty"`
	RequestHeaders   *HeaderModifier `json:"requestHeaders,omitempty"`
	ExpectedStatuses []StatusRange   `json:"expectedStatuses,omitempty"`
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// GRPCHealthCheck calls grpc.health.v1.Health/Check. The cluster must
// speak HTTP/2.
type GRPCHealthCheck struct {
	ServiceName string `json:"serviceName,omitempty"`
	Authority   string `json:"authority,omitempty"`
}

// OutlierDetection ejects endpoints that keep failing (passive health
// checking); nil fields keep Envoy's defaults.
type OutlierDetection struct {
	Consecutive5xx            *uint32       `json:"consecutive5xx,omitempty"`
	ConsecutiveGatewayFailure *uint32       `json:"consecutiveGatewayFailure,omitempty"`
	Interval                  time.Duration `json:"interval,omitempty"`
	BaseEjectionTime          time.Duration `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent        *uint32       `json:"maxEjectionPercent,omitempty"`
}

// RegexSubstitution replaces every match of Pattern (RE2) in the path with
// Substitution, in which \1 ... refer to capture groups.
type RegexSubstitution struct {
	Pattern      string `json:"pattern"`
	Substitution string `json:"substitution"`
}

// validateClusterPolicies returns the problems of c's policies.
func validateClusterPolicies(c *Cluster) []string {
	var errs []string
	if lb := c.LoadBalancer; lb != nil {
		switch lb.Policy {
		case LBRoundRobin, LBLeastRequest, LBRingHash, LBMaglev:
		default:
			errs = append(errs, fmt.Sprintf("unknown load balancer policy %q", lb.Policy))
		}
	}
	prios := map[Priority]bool{}
	for _, cb := range c.CircuitBreakers {
		switch cb.Priority {
		case PriorityDefault, PriorityHigh:
		default:
			errs = append(errs, fmt.Sprintf("circuit breaker: unknown priority %q", cb.Priority))
		}
		if prios[cb.Priority] {
			errs = append(errs, fmt.Sprintf("circuit breaker: priority %s set twice", cb.Priority))
		}
		prios[cb.Priority] = true
	}
	for i, hc := range c.HealthChecks {
		for _, m := range validateHealthCheck(hc, c.Protocol) {
			errs = append(errs, fmt.Sprintf("health check %d: %s", i, m))
		}
	}
	if od := c.OutlierDetection; od != nil {
		if od.Interval < 0 || od.BaseEjectionTime < 0 {
			errs = append(errs, "outlier detection: negative duration")
		}
		if p := od.MaxEjectionPercent; p != nil && *p > 100 {
			errs = append(errs, fmt.Sprintf("outlier detection: max ejection percent %d is over 100", *p))
		}
	}
	if c.StatsName != "" && strings.ContainsAny(c.StatsName, "\x00\r\n") {
		errs = append(errs, "stats name contains a control character")
	}
	return errs
}

func validateHealthCheck(hc HealthCheck, p UpstreamProtocol) []string {
	var errs []string
	if hc.Timeout <= 0 || hc.Interval <= 0 {
		errs = append(errs, "timeout and interval must be positive")
	}
	if hc.UnhealthyThreshold == 0 || hc.HealthyThreshold == 0 {
		errs = append(errs, "thresholds must be at least 1")
	}
	kinds := 0
	if h := hc.HTTP; h != nil {
		kinds++
		if !strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, "\x00\r\n ") {
			errs = append(errs, fmt.Sprintf("HTTP path %q must start with / and contain no spaces or control characters", h.Path))
		}
		if strings.ContainsAny(h.Host, "/?#@ \x00\r\n") {
			errs = append(errs, fmt.Sprintf("HTTP host %q is not valid", h.Host))
		}
		errs = append(errs, validateHeaderModifier(h.RequestHeaders)...)
		for _, r := range h.ExpectedStatuses {
			if r.Min < 100 || r.Max > 599 || r.Min > r.Max {
				errs = append(errs, fmt.Sprintf("expected status range %d-%d is not within 100-599 with min <= max", r.Min, r.Max))
			}
		}
	}
	if g := hc.GRPC; g != nil {
		kinds++
		if p != UpstreamHTTP2 {
			errs = append(errs, "a gRPC health check needs a cluster that speaks HTTP/2")
		}
		if strings.ContainsAny(g.ServiceName+g.Authority, "\x00\r\n") {
			errs = append(errs, "gRPC service name or authority contains a control character")
		}
	}
	if hc.TCP {
		kinds++
	}
	if kinds != 1 {
		errs = append(errs, fmt.Sprintf("want exactly one of HTTP, gRPC and TCP, have %d", kinds))
	}
	return errs
}

// validateRoutePolicies returns the problems of the route settings of this
// file (hash policies, idle timeout, upgrades, regex rewrites).
func validateRoutePolicies(r *Route) []string {
	var errs []string
	f := r.Filters
	for _, h := range f.HashPolicies {
		n := 0
		if h.Header != "" {
			n++
			if !validToken(h.Header) {
				errs = append(errs, fmt.Sprintf("hash policy: header name %q is not valid", h.Header))
			}
		}
		if c := h.Cookie; c != nil {
			n++
			if !validToken(c.Name) {
				errs = append(errs, fmt.Sprintf("hash policy: cookie name %q is not valid", c.Name))
			}
			if c.TTL < 0 {
				errs = append(errs, "hash policy: cookie TTL is negative")
			}
			if c.Path != "" && (!strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, "; \x00\r\n")) {
				errs = append(errs, fmt.Sprintf("hash policy: cookie path %q is not valid", c.Path))
			}
		}
		if h.SourceIP {
			n++
		}
		if n != 1 {
			errs = append(errs, fmt.Sprintf("hash policy: want exactly one of header, cookie and source IP, have %d", n))
		}
	}
	seen := map[string]bool{}
	for _, u := range f.Upgrades {
		if !ValidUpgrade(u) {
			errs = append(errs, fmt.Sprintf("upgrade %q is not a valid protocol token", u))
		}
		if seen[strings.ToLower(u)] {
			errs = append(errs, fmt.Sprintf("upgrade %q listed twice", u))
		}
		seen[strings.ToLower(u)] = true
	}
	if rw := f.Rewrite; rw != nil && rw.Regex != nil {
		if rw.FullPath != "" || rw.PrefixReplace != "" {
			errs = append(errs, "rewrite sets a regex together with a path or prefix replacement")
		}
		errs = append(errs, validateRegexSubstitution("rewrite", rw.Regex)...)
	}
	if rd := r.Redirect; rd != nil && rd.Regex != nil {
		if rd.Path != "" || rd.PrefixReplace != "" {
			errs = append(errs, "redirect sets a regex together with a path or prefix replacement")
		}
		errs = append(errs, validateRegexSubstitution("redirect", rd.Regex)...)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Annotations)) {
		if k == "" || !utf8.ValidString(k+r.Annotations[k]) {
			errs = append(errs, fmt.Sprintf("annotation %q is not a valid UTF-8 key and value", k))
		}
	}
	return errs
}

func validateRegexSubstitution(what string, rs *RegexSubstitution) []string {
	var errs []string
	if err := ValidateRegex(rs.Pattern); err != nil {
		errs = append(errs, what+": "+err.Error())
	}
	if strings.ContainsAny(rs.Substitution, "\x00\r\n") {
		errs = append(errs, what+": substitution contains a control character")
	}
	return errs
}

func validateHeaderModifier(hm *HeaderModifier) []string {
	if hm == nil {
		return nil
	}
	var errs []string
	for _, h := range append(append([]Header{}, hm.Set...), hm.Add...) {
		if !validToken(h.Name) {
			errs = append(errs, fmt.Sprintf("header name %q is not valid", h.Name))
		}
		if strings.ContainsAny(h.Value, "\x00\r\n") {
			errs = append(errs, fmt.Sprintf("header %s: value contains a control character", h.Name))
		}
	}
	for _, n := range hm.Remove {
		if !validToken(n) {
			errs = append(errs, fmt.Sprintf("header name %q is not valid", n))
		}
	}
	return errs
}

// validateTLSParams checks the versions, cipher and curve names and the
// client CA of a TLS configuration.
func validateTLSParams(t *TLSConfig, secrets map[string]*Secret) []string {
	var errs []string
	for _, v := range []string{t.MinVersion, t.MaxVersion} {
		if _, ok := tlsVersions[v]; !ok {
			errs = append(errs, fmt.Sprintf("TLS version %q is not one of 1.0, 1.1, 1.2, 1.3", v))
		}
	}
	if t.MinVersion != "" && t.MaxVersion != "" && tlsVersions[t.MinVersion] > tlsVersions[t.MaxVersion] {
		errs = append(errs, fmt.Sprintf("TLS minimum version %s is above the maximum %s", t.MinVersion, t.MaxVersion))
	}
	for _, n := range append(append([]string{}, t.CipherSuites...), t.ECDHCurves...) {
		if n == "" || strings.ContainsAny(n, ": \x00\r\n") {
			errs = append(errs, fmt.Sprintf("cipher suite or curve name %q is not valid", n))
		}
	}
	if t.ClientCA != "" {
		if s, ok := secrets[t.ClientCA]; !ok {
			errs = append(errs, fmt.Sprintf("client CA secret %q does not exist", t.ClientCA))
		} else if len(s.CA) == 0 || len(s.Certificate) > 0 {
			// An SDS secret is a certificate or a validation context.
			errs = append(errs, fmt.Sprintf("client CA secret %q must hold a CA bundle and no certificate", t.ClientCA))
		}
	}
	if t.ClientCertRequired && t.ClientCA == "" {
		errs = append(errs, "a client certificate is required but no CA checks it")
	}
	return errs
}

// ValidUpgrade accepts an Upgrade protocol as RFC 9110 writes it: a token,
// optionally followed by "/" and a version token ("websocket", "h2c",
// "spdy/3.1").
func ValidUpgrade(u string) bool {
	name, version, hasVersion := strings.Cut(u, "/")
	return validToken(name) && (!hasVersion || validToken(version))
}
