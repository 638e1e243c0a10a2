package gatewayapi

import (
	"net/netip"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/legateproxy/legate/translators"
)

// SupportedFeatures is THE list of Gateway API features Legate implements:
// the one place that says so. Every GatewayClass of Legate's lists exactly
// these in status.supportedFeatures, and the conformance suite runs the
// tests of exactly these (it reads that list).
//
// When you implement a feature, add its name here (kept in alphabetical
// order, one per line, with what implements it) in the same change that
// implements it, with golden cases that show it; when a feature stops
// working, remove it. A name here that Legate does not fully implement is
// a conformance failure; a feature missing here is a feature nobody tests.
// TestSupportedFeatures checks the list is sorted, has no duplicates and
// names only features of the Gateway API version Legate is built with.
var SupportedFeatures = []features.FeatureName{
	features.SupportBackendTLSPolicy,                              // backendtls.go
	features.SupportBackendTLSPolicySANValidation,                 // backendtls.go: subjectAltNames
	features.SupportGRPCRoute,                                     // grpcroute.go
	features.SupportGRPCRouteNamedRouteRule,                       // rule names name their routes (grpcRuleName)
	features.SupportGateway,                                       // gateway.go, listener.go
	features.SupportGatewayHTTPListenerIsolation,                  // per-listener virtual hosts (doc.go)
	features.SupportGatewayHTTPSListenerDetectMisdirectedRequests, // xds: 421 on a chain for another chain's hosts
	features.SupportHTTPRoute,                                     // httproute.go
	features.SupportHTTPRoute303RedirectStatusCode,                // filters.go: checkRedirect
	features.SupportHTTPRoute307RedirectStatusCode,                // filters.go: checkRedirect
	features.SupportHTTPRoute308RedirectStatusCode,                // filters.go: checkRedirect
	features.SupportHTTPRouteBackendProtocolH2C,                   // appProtocol h2c: HTTP/2 clusters
	features.SupportHTTPRouteBackendProtocolWebSocket,             // appProtocol kubernetes.io/ws: upgrades on the rule's routes
	features.SupportHTTPRouteBackendRequestHeaderModification,     // rulepolicy.go: backendFiltersFor
	features.SupportHTTPRouteBackendTimeout,                       // timeouts.backendRequest
	features.SupportHTTPRouteCORS,                                 // rulepolicy.go: corsFor
	features.SupportHTTPRouteDestinationPortMatching,              // GEP-957: parentRef port selects listeners (attachToGateway)
	features.SupportHTTPRouteHostRewrite,                          // filters.go: rewrite
	features.SupportHTTPRouteMethodMatching,                       // match.go
	features.SupportHTTPRouteNamedRouteRule,                       // rule names name the rule's routes
	features.SupportHTTPRouteParentRefPort,                        // attachToGateway
	features.SupportHTTPRoutePathRedirect,                         // filters.go: redirectFor
	features.SupportHTTPRoutePathRewrite,                          // filters.go: rewrite
	features.SupportHTTPRoutePortRedirect,                         // filters.go: redirectFor
	features.SupportHTTPRouteQueryParamMatching,                   // match.go
	features.SupportHTTPRouteRequestMirror,                        // filters.go: mirror
	features.SupportHTTPRouteRequestMultipleMirrors,               // filters.go: mirror
	features.SupportHTTPRouteRequestPercentageMirror,              // filters.go: mirror
	features.SupportHTTPRouteRequestTimeout,                       // timeouts.request
	features.SupportHTTPRouteResponseHeaderModification,           // filters.go: headerModifier
	features.SupportHTTPRouteRetry,                                // rulepolicy.go: retryFor
	features.SupportHTTPRouteRetryBackendTimeout,                  // backendRequest bounds each try
	features.SupportHTTPRouteRetryConnectionError,                 // retries on connect failure, reset
	features.SupportHTTPRouteSchemeRedirect,                       // filters.go: redirectFor
	features.SupportReferenceGrant,                                // refgrant.go
	features.SupportTCPRoute,                                      // l4route.go
	features.SupportTLSRoute,                                      // l4route.go: SNI chains
	features.SupportTLSRouteModeMixed,                             // passthrough and terminate chains on one port
	features.SupportTLSRouteModeTerminate,                         // listener.go: TLS Terminate, l4Listener
	features.SupportUDPRoute,                                      // l4route.go: udpWeightedCluster for weights
}

// PoolFeatures are claimed on top of SupportedFeatures only when
// --gateway-address-pool gives every Gateway an address of its own: only
// then are a Gateway's spec.addresses honoured (a static address from the
// pool, or an address without value, which the pool fills).
var PoolFeatures = []features.FeatureName{
	features.SupportGatewayAddressEmpty,    // addresspool.go: an entry without value
	features.SupportGatewayStaticAddresses, // addresspool.go: a requested address in the pool
}

// supportedFeatures renders the features claimed for a GatewayClass
// status, sorted: SupportedFeatures, PoolFeatures with a pool, and
// GatewayPort8080 when a Gateway can listen on port 8080 (see
// port8080Free).
func supportedFeatures(withPool, port8080 bool) []gatewayv1.SupportedFeature {
	names := slices.Clone(SupportedFeatures)
	if withPool {
		names = append(names, PoolFeatures...)
	}
	if port8080 {
		names = append(names, features.SupportGatewayPort8080)
	}
	slices.Sort(names)
	out := make([]gatewayv1.SupportedFeature, len(names))
	for i, f := range names {
		out[i] = gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)}
	}
	return out
}

// port8080Free reports whether Gateways may listen on port 8080: the
// shared Ingress listeners do not use it, or every Gateway binds an
// address of its own that the shared listeners' address does not cover.
// By default (shared listeners on 0.0.0.0:8080) they may not. (An HTTP
// listener there joins the shared HTTP listener instead; that is not
// claimed as the feature, since the port is then not the Gateway's
// alone and an HTTPS listener could not have it.)
func port8080Free(s translators.Settings) bool {
	if s.HTTPPort != 8080 && s.HTTPSPort != 8080 {
		return true
	}
	if !s.GatewayAddressPool.IsValid() {
		return false
	}
	a, err := netip.ParseAddr(s.ListenAddress)
	return err == nil && !a.IsUnspecified() && !s.GatewayAddressPool.Contains(a)
}
