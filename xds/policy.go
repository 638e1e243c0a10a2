package xds

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/legateproxy/legate/translators/ir"
)

// applyClusterPolicies sets the load balancer, circuit breakers, health
// checks, outlier detection and stats name of c on out.
func applyClusterPolicies(out *clusterv3.Cluster, c *ir.Cluster) error {
	if lb := c.LoadBalancer; lb != nil {
		switch lb.Policy {
		case ir.LBRoundRobin:
			out.LbPolicy = clusterv3.Cluster_ROUND_ROBIN
		case ir.LBLeastRequest:
			out.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		case ir.LBRingHash:
			out.LbPolicy = clusterv3.Cluster_RING_HASH
		case ir.LBMaglev:
			out.LbPolicy = clusterv3.Cluster_MAGLEV
		default:
			return fmt.Errorf("unknown load balancer policy %q", lb.Policy)
		}
	}
	if len(c.CircuitBreakers) > 0 {
		cb := &clusterv3.CircuitBreakers{}
		for _, t := range c.CircuitBreakers {
			th := &clusterv3.CircuitBreakers_Thresholds{
				MaxConnections:     uint32Value(t.MaxConnections),
				MaxPendingRequests: uint32Value(t.MaxPendingRequests),
				MaxRequests:        uint32Value(t.MaxRequests),
				MaxRetries:         uint32Value(t.MaxRetries),
			}
			switch t.Priority {
			case ir.PriorityDefault:
				th.Priority = corev3.RoutingPriority_DEFAULT
			case ir.PriorityHigh:
				th.Priority = corev3.RoutingPriority_HIGH
			default:
				return fmt.Errorf("circuit breaker: unknown priority %q", t.Priority)
			}
			cb.Thresholds = append(cb.Thresholds, th)
		}
		out.CircuitBreakers = cb
	}
	for i, hc := range c.HealthChecks {
		h, err := buildHealthCheck(hc)
		if err != nil {
			return fmt.Errorf("health check %d: %w", i, err)
		}
		// Envoy wants every check named when there are several.
		h.Name = fmt.Sprintf("health-check-%d", i)
		out.HealthChecks = append(out.HealthChecks, h)
	}
	if od := c.OutlierDetection; od != nil {
		o := &clusterv3.OutlierDetection{
			Consecutive_5Xx:           uint32Value(od.Consecutive5xx),
			ConsecutiveGatewayFailure: uint32Value(od.ConsecutiveGatewayFailure),
			MaxEjectionPercent:        uint32Value(od.MaxEjectionPercent),
		}
		if od.Interval > 0 {
			o.Interval = durationpb.New(od.Interval)
		}
		if od.BaseEjectionTime > 0 {
			o.BaseEjectionTime = durationpb.New(od.BaseEjectionTime)
		}
		out.OutlierDetection = o
	}
	out.AltStatName = c.StatsName
	return nil
}

func uint32Value(p *uint32) *wrapperspb.UInt32Value {
	if p == nil {
		return nil
	}
	return wrapperspb.UInt32(*p)
}

func buildHealthCheck(hc ir.HealthCheck) (*corev3.HealthCheck, error) {
	out := &corev3.HealthCheck{
		Timeout:            durationpb.New(hc.Timeout),
		Interval:           durationpb.New(hc.Interval),
		UnhealthyThreshold: wrapperspb.UInt32(hc.UnhealthyThreshold),
		HealthyThreshold:   wrapperspb.UInt32(hc.HealthyThreshold),
	}
	switch {
	case hc.HTTP != nil:
		h := &corev3.HealthCheck_HttpHealthCheck{Path: hc.HTTP.Path, Host: hc.HTTP.Host}
		if hm := hc.HTTP.RequestHeaders; hm != nil {
			h.RequestHeadersToAdd = headersToAdd(hm)
			h.RequestHeadersToRemove = append([]string(nil), hm.Remove...)
		}
		for _, r := range hc.HTTP.ExpectedStatuses {
			// Envoy's ranges are half open: [start, end).
			h.ExpectedStatuses = append(h.ExpectedStatuses, &typev3.Int64Range{Start: int64(r.Min), End: int64(r.Max) + 1})
		}
		out.HealthChecker = &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: h}
	case hc.GRPC != nil:
		out.HealthChecker = &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{
			ServiceName: hc.GRPC.ServiceName, Authority: hc.GRPC.Authority,
		}}
	case hc.TCP:
		// An empty send payload: the check passes when a connection opens.
		out.HealthChecker = &corev3.HealthCheck_TcpHealthCheck_{TcpHealthCheck: &corev3.HealthCheck_TcpHealthCheck{}}
	default:
		return nil, fmt.Errorf("no kind of health check set")
	}
	return out, nil
}

// applyRoutePolicies sets hash policies, the idle timeout, upgrades and a
// regex rewrite on a.
func applyRoutePolicies(a *routev3.RouteAction, r *ir.Route) {
	f := r.Filters
	for _, h := range f.HashPolicies {
		hp := &routev3.RouteAction_HashPolicy{}
		switch {
		case h.Header != "":
			hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: h.Header}}
		case h.Cookie != nil:
			c := &routev3.RouteAction_HashPolicy_Cookie{Name: h.Cookie.Name, Path: h.Cookie.Path}
			if h.Cookie.TTL > 0 {
				c.Ttl = durationpb.New(h.Cookie.TTL)
			}
			hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Cookie_{Cookie: c}
		case h.SourceIP:
			hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_ConnectionProperties_{
				ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true},
			}
		}
		a.HashPolicy = append(a.HashPolicy, hp)
	}
	switch {
	case f.IdleTimeout > 0:
		a.IdleTimeout = durationpb.New(f.IdleTimeout)
	case f.IdleTimeout < 0:
		a.IdleTimeout = durationpb.New(0)
	}
	for _, u := range f.Upgrades {
		a.UpgradeConfigs = append(a.UpgradeConfigs, &routev3.RouteAction_UpgradeConfig{UpgradeType: u, Enabled: wrapperspb.Bool(true)})
	}
	if rw := f.Rewrite; rw != nil && rw.Regex != nil {
		a.RegexRewrite = regexSubstitution(rw.Regex)
	}
}

func regexSubstitution(rs *ir.RegexSubstitution) *matcherv3.RegexMatchAndSubstitute {
	return &matcherv3.RegexMatchAndSubstitute{
		Pattern:      &matcherv3.RegexMatcher{Regex: rs.Pattern},
		Substitution: rs.Substitution,
	}
}

// annotationMetadata carries a route's annotations as filter metadata
// under "legate", where Envoy's config dump shows them.
func annotationMetadata(ann map[string]string) (*corev3.Metadata, error) {
	if len(ann) == 0 {
		return nil, nil
	}
	fields := map[string]any{}
	for k, v := range ann {
		fields[k] = v
	}
	st, err := structpb.NewStruct(fields)
	if err != nil {
		return nil, fmt.Errorf("route annotations: %w", err)
	}
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"legate": st}}, nil
}

// clusterPolicies makes the checks Envoy makes when it builds a cluster's
// health checkers: several checks need unique names, and a gRPC health
// check needs a cluster that speaks HTTP/2.
func (v *validator) clusterPolicies(loc location, c *clusterv3.Cluster) {
	grpc := false
	names := map[string]bool{}
	for i, hc := range c.GetHealthChecks() {
		grpc = grpc || hc.GetGrpcHealthCheck() != nil
		if len(c.GetHealthChecks()) > 1 {
			if hc.GetName() == "" || names[hc.GetName()] {
				v.add(loc.at(fmt.Sprintf("health_checks[%d]", i)), "several health checks need unique, non-empty names")
			}
			names[hc.GetName()] = true
		}
	}
	if !grpc {
		return
	}
	h2 := false
	if a := c.GetTypedExtensionProtocolOptions()[httpProtocolOptionsName]; a != nil {
		opts := &upstreamhttpv3.HttpProtocolOptions{}
		if err := a.UnmarshalTo(opts); err == nil {
			h2 = opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil ||
				opts.GetUseDownstreamProtocolConfig().GetHttp2ProtocolOptions() != nil
		}
	}
	if !h2 {
		v.add(loc, "a gRPC health check needs the cluster to speak HTTP/2")
	}
}

// downstreamTLSParams returns the TLS versions, cipher suites and curves
// of t, or nil when all are Envoy's defaults.
func downstreamTLSParams(t *ir.TLSConfig) (*tlsv3.TlsParameters, error) {
	if t.MinVersion == "" && t.MaxVersion == "" && len(t.CipherSuites) == 0 && len(t.ECDHCurves) == 0 {
		return nil, nil
	}
	p := &tlsv3.TlsParameters{
		CipherSuites: append([]string(nil), t.CipherSuites...),
		EcdhCurves:   append([]string(nil), t.ECDHCurves...),
	}
	var err error
	if p.TlsMinimumProtocolVersion, err = tlsVersion(t.MinVersion); err != nil {
		return nil, fmt.Errorf("TLS minimum version: %w", err)
	}
	if p.TlsMaximumProtocolVersion, err = tlsVersion(t.MaxVersion); err != nil {
		return nil, fmt.Errorf("TLS maximum version: %w", err)
	}
	return p, nil
}
