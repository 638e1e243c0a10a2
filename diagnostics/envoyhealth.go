package diagnostics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// EnvoyHost is one upstream host of a cluster as the attached Envoy sees
// it: its address and its health, active health checks and outlier
// detection included. It is what Envoy will actually send traffic to, which
// may differ from what Legate published while an update is in flight.
type EnvoyHost struct {
	Address string `json:"address"`
	// Health is HEALTHY, DEGRADED or UNHEALTHY (Envoy's view, combining
	// EDS status, active health checks and outlier ejection).
	Health string `json:"health"`
	// Reasons say why a host is not HEALTHY, in Envoy's words.
	Reasons []string `json:"reasons,omitempty"`
	Weight  uint32   `json:"weight,omitempty"`
}

// envoyClusterHosts asks the Envoy admin interface at base (e.g.
// "http://127.0.0.1:9901") for /clusters and returns each cluster's hosts
// by cluster name.
func envoyClusterHosts(ctx context.Context, client *http.Client, base string) (map[string][]EnvoyHost, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/clusters?format=json", nil)
	if err != nil {
		return nil, fmt.Errorf("envoy admin: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("envoy admin: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("envoy admin /clusters: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("envoy admin /clusters: %s", resp.Status)
	}
	var clusters adminv3.Clusters
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &clusters); err != nil {
		return nil, fmt.Errorf("envoy admin /clusters: decoding: %w", err)
	}
	out := map[string][]EnvoyHost{}
	for _, cs := range clusters.GetClusterStatuses() {
		hosts := []EnvoyHost{}
		for _, h := range cs.GetHostStatuses() {
			health, reasons := hostHealth(h.GetHealthStatus())
			hosts = append(hosts, EnvoyHost{Address: hostAddress(h.GetAddress()), Health: health, Reasons: reasons, Weight: h.GetWeight()})
		}
		out[cs.GetName()] = hosts
	}
	return out, nil
}

func hostAddress(a *corev3.Address) string {
	if sa := a.GetSocketAddress(); sa != nil {
		return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))
	}
	if p := a.GetPipe(); p != nil {
		return "unix:" + p.GetPath()
	}
	return a.String()
}

// hostHealth folds Envoy's health flags into one word and the reasons for
// it, following Envoy's own precedence: any failure flag makes a host
// unhealthy, a degraded flag makes it degraded.
func hostHealth(s *adminv3.HostHealthStatus) (string, []string) {
	var unhealthy, degraded []string
	if s.GetFailedActiveHealthCheck() {
		unhealthy = append(unhealthy, "failed active health check")
	}
	if s.GetActiveHcTimeout() {
		unhealthy = append(unhealthy, "active health check timed out")
	}
	if s.GetFailedOutlierCheck() {
		unhealthy = append(unhealthy, "ejected by outlier detection")
	}
	if s.GetExcludedViaImmediateHcFail() {
		unhealthy = append(unhealthy, "excluded: immediate health check failure")
	}
	if s.GetPendingActiveHc() {
		unhealthy = append(unhealthy, "awaiting its first active health check")
	}
	switch eds := s.GetEdsHealthStatus(); eds {
	case corev3.HealthStatus_UNKNOWN, corev3.HealthStatus_HEALTHY:
	case corev3.HealthStatus_DEGRADED:
		degraded = append(degraded, "EDS status DEGRADED")
	default:
		unhealthy = append(unhealthy, "EDS status "+eds.String())
	}
	if s.GetFailedActiveDegradedCheck() {
		degraded = append(degraded, "active health check says degraded")
	}
	if s.GetFailedDegradedOutlierDetection() {
		degraded = append(degraded, "degraded by outlier detection")
	}
	if s.GetPendingDynamicRemoval() {
		degraded = append(degraded, "pending removal")
	}
	switch {
	case len(unhealthy) > 0:
		return "UNHEALTHY", append(unhealthy, degraded...)
	case len(degraded) > 0:
		return "DEGRADED", degraded
	}
	return "HEALTHY", nil
}
