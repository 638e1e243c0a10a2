package xds

import (
	"fmt"
	"slices"
	"sort"

	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	matcherxdsv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	udpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/udp/udp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/legateproxy/legate/translators/ir"
)

// defaultALPN is offered on TLS listeners when the IR names none: HTTP/2
// first, so that clients able to speak it do.
var defaultALPN = []string{"h2", "http/1.1"}

// buildListener returns the Listener for l and the RouteConfigurations its
// HTTP connection managers name. It returns a nil Listener when l has
// nothing Envoy could serve (an HTTPS listener without any TLS virtual
// host), because Envoy rejects a listener without filter chains.
func buildListener(l *ir.Listener) (*listenerv3.Listener, []*RouteConfiguration, error) {
	return (&buildRun{}).listener(l)
}

// listener is buildListener in a build that may reuse virtual hosts and
// routes.
func (b *buildRun) listener(l *ir.Listener) (*listenerv3.Listener, []*RouteConfiguration, error) {
	lis := &listenerv3.Listener{
		Name:    l.Name,
		Address: socketAddress(l.Address, l.Port, corev3.SocketAddress_TCP),
	}
	switch l.Protocol {
	case ir.ProtocolHTTP:
		hcm, err := httpConnectionManager(statPrefix(l), HTTPRouteConfigName(l.Name), needsOf(l.VirtualHosts), l.HTTPConnection)
		if err != nil {
			return nil, nil, err
		}
		lis.FilterChains = []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{hcm}}}
		rc, err := b.routeConfiguration(HTTPRouteConfigName(l.Name), l.VirtualHosts)
		if err != nil {
			return nil, nil, err
		}
		return lis, []*RouteConfiguration{rc}, nil
	case ir.ProtocolHTTPS:
		return b.httpsListener(lis, l)
	case ir.ProtocolTCP:
		return buildTCPListener(lis, l)
	case ir.ProtocolTLS:
		return buildTLSPassthroughListener(lis, l)
	case ir.ProtocolUDP:
		return buildUDPListener(l)
	default:
		return nil, nil, fmt.Errorf("unknown protocol %q", l.Protocol)
	}
}

// httpsListener terminates TLS with one filter chain per group of
// virtual hosts that have TLS (ir.VirtualHost.Group; a virtual host
// without a group is a group of its own), chosen by SNI. Each chain has its
// own connection manager and route table holding that group's virtual
// hosts, so a request whose Host header names a host of another group is
// not served under this one's certificate: it is answered 421 (see
// misdirectedVirtualHost).
//
// Virtual hosts without TLS are left out: there is no certificate they
// could be served with, and serving them on another host's chain would
// present a certificate that is not valid for them.
func (b *buildRun) httpsListener(lis *listenerv3.Listener, l *ir.Listener) (*listenerv3.Listener, []*RouteConfiguration, error) {
	vhosts := tlsVirtualHosts(l.VirtualHosts)
	if len(vhosts) == 0 {
		return nil, nil, nil
	}
	inspector, err := tlsInspector()
	if err != nil {
		return nil, nil, err
	}
	lis.ListenerFilters = []*listenerv3.ListenerFilter{inspector}
	var routes []*RouteConfiguration
	defaultChain := ""
	for _, members := range tlsGroups(vhosts) {
		first := members[0]
		rcName := RouteConfigName(l.Name, first.Name)
		hcm, err := httpConnectionManager(statPrefix(l), rcName, needsOf(members), l.HTTPConnection)
		if err != nil {
			return nil, nil, fmt.Errorf("virtual host %s: %w", first.Name, err)
		}
		ts, err := downstreamTLS(first.TLS, first.TLS.ALPN, defaultALPN)
		if err != nil {
			return nil, nil, fmt.Errorf("virtual host %s: %w", first.Name, err)
		}
		var hostnames []string
		for _, vh := range members {
			hostnames = append(hostnames, vh.Hostnames...)
		}
		sni := serverNames(hostnames)
		if sni == nil {
			if defaultChain != "" {
				return nil, nil, fmt.Errorf("virtual hosts %s and %s both match any server name", defaultChain, first.Name)
			}
			defaultChain = first.Name
		}
		lis.FilterChains = append(lis.FilterChains, &listenerv3.FilterChain{
			Name:             first.Name,
			FilterChainMatch: filterChainMatch(sni),
			Filters:          []*listenerv3.Filter{hcm},
			TransportSocket:  ts,
		})
		var extra []*routev3.VirtualHost
		if mv := misdirectedVirtualHost(members, vhosts); mv != nil {
			extra = append(extra, mv)
		}
		rc, err := b.routeConfiguration(rcName, members, extra...)
		if err != nil {
			return nil, nil, err
		}
		routes = append(routes, rc)
	}
	return lis, routes, nil
}

// tlsGroups splits TLS virtual hosts (sorted by name) into the groups
// that share a filter chain: those of one non-empty Group together (they
// share its certificate: the first one's TLS settings are used), every
// other alone; in the order of each group's first virtual host.
func tlsGroups(vhosts []*ir.VirtualHost) [][]*ir.VirtualHost {
	var out [][]*ir.VirtualHost
	index := map[string]int{}
	for _, vh := range vhosts {
		if vh.Group != "" {
			if i, ok := index[vh.Group]; ok {
				out[i] = append(out[i], vh)
				continue
			}
			index[vh.Group] = len(out)
		}
		out = append(out, []*ir.VirtualHost{vh})
	}
	return out
}

// MisdirectedVirtualHost names the virtual host of an HTTPS route table
// that answers requests meant for another certificate's hosts.
const MisdirectedVirtualHost = "misdirected"

// misdirectedVirtualHost answers 421 Misdirected Request (RFC 9110
// section 15.5.20) on a chain for a Host header that another chain of the
// listener serves: the client reused a connection, or sent a server name,
// meant for another group's certificate, and should retry on a connection
// of its own. It covers the domains of every virtual host outside members
// that members do not have themselves (nil when there are none); Envoy
// picks it only where one of them is a better match for the Host than the
// chain's own.
func misdirectedVirtualHost(members, all []*ir.VirtualHost) *routev3.VirtualHost {
	own := map[string]bool{}
	for _, vh := range members {
		for _, d := range Domains(vh.Hostnames) {
			own[d] = true
		}
	}
	seen := map[string]bool{}
	var domains []string
	for _, other := range all {
		if slices.Contains(members, other) {
			continue
		}
		for _, d := range Domains(other.Hostnames) {
			if !own[d] && !seen[d] {
				seen[d] = true
				domains = append(domains, d)
			}
		}
	}
	if len(domains) == 0 {
		return nil
	}
	sort.Strings(domains)
	return &routev3.VirtualHost{
		Name:    MisdirectedVirtualHost,
		Domains: domains,
		Routes: []*routev3.Route{{
			Name:   MisdirectedVirtualHost,
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 421}},
		}},
	}
}

// tlsVirtualHosts returns the virtual hosts that carry TLS, sorted by name.
func tlsVirtualHosts(in []*ir.VirtualHost) []*ir.VirtualHost {
	var out []*ir.VirtualHost
	for _, vh := range in {
		if vh.TLS != nil {
			out = append(out, vh)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// serverNames turns hostnames into filter_chain_match.server_names. Envoy
// matches "*.example.com" entries as suffix wildcards itself. A "*" among
// the hostnames makes the chain the one for any (or no) server name, which
// Envoy expresses as no server_names at all; nil is returned then.
func serverNames(hostnames []string) []string {
	var out []string
	for _, h := range hostnames {
		if h == "*" {
			return nil
		}
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

func filterChainMatch(serverNames []string) *listenerv3.FilterChainMatch {
	if len(serverNames) == 0 {
		return nil
	}
	return &listenerv3.FilterChainMatch{ServerNames: serverNames}
}

// httpConnectionManager is the network filter of every HTTP filter chain:
// routes come over RDS on the same ADS stream. conn, when set, changes the
// listener-wide settings (see ir.HTTPConnection).
func httpConnectionManager(statPrefix, routeConfigName string, needs httpFilterNeeds, conn *ir.HTTPConnection) (*listenerv3.Filter, error) {
	router, err := toAny(&routerv3.Router{})
	if err != nil {
		return nil, err
	}
	filters, err := httpFilters(needs)
	if err != nil {
		return nil, err
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource:    adsConfigSource(),
			RouteConfigName: routeConfigName,
		}},
		HttpFilters: append(filters, &hcmv3.HttpFilter{
			Name:       routerFilterName,
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}),
		// Envoy is the edge: the client address is the peer's, and
		// X-Forwarded-For from clients is not trusted.
		UseRemoteAddress: wrapperspb.Bool(true),
		// Route matching sees RFC 3986 normalised paths, so "/a/../b" cannot
		// sidestep a "/b" route's policy.
		NormalizePath: wrapperspb.Bool(true),
		// Merging slashes changes what the backend receives; leave paths as
		// the client sent them apart from normalisation.
		MergeSlashes: false,
		// Encoded slashes ("%2F") are passed on as they are: decoding them
		// would change which backend resource is meant, rejecting them would
		// break APIs that use them in identifiers.
		PathWithEscapedSlashesAction: hcmv3.HttpConnectionManager_KEEP_UNCHANGED,
	}
	applyHTTPConnection(hcm, conn)
	a, err := toAny(hcm)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Filter{
		Name:       httpConnectionManagerName,
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a},
	}, nil
}

// applyHTTPConnection sets the connection manager fields conn names.
func applyHTTPConnection(hcm *hcmv3.HttpConnectionManager, conn *ir.HTTPConnection) {
	if conn == nil {
		return
	}
	hcm.ServerName = conn.ServerName
	if conn.UseRemoteAddress != nil {
		hcm.UseRemoteAddress = wrapperspb.Bool(*conn.UseRemoteAddress)
	}
	hcm.XffNumTrustedHops = conn.XFFNumTrustedHops
	// Only a port equal to the listener's own is removed, so a Host
	// naming another port still misses, as it should.
	hcm.StripMatchingHostPort = conn.StripMatchingHostPort
	switch {
	case conn.IdleTimeout > 0:
		hcm.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{IdleTimeout: durationpb.New(conn.IdleTimeout)}
	case conn.IdleTimeout < 0:
		// Zero is how Envoy spells "no idle timeout".
		hcm.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{IdleTimeout: durationpb.New(0)}
	}
}

// statPrefix names the statistics of l's connection manager or proxy:
// the IR's StatPrefix, else the listener's name.
func statPrefix(l *ir.Listener) string {
	if l.StatPrefix != "" {
		return l.StatPrefix
	}
	return l.Name
}

func tlsInspector() (*listenerv3.ListenerFilter, error) {
	a, err := toAny(&tlsinspectorv3.TlsInspector{})
	if err != nil {
		return nil, err
	}
	return &listenerv3.ListenerFilter{
		Name:       tlsInspectorName,
		ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: a},
	}, nil
}

// downstreamTLS is the transport socket that terminates TLS with the
// certificates named by tls, fetched over SDS on the ADS stream.
func downstreamTLS(tls *ir.TLSConfig, alpn, defaultALPN []string) (*corev3.TransportSocket, error) {
	if len(alpn) == 0 {
		alpn = defaultALPN
	}
	common := &tlsv3.CommonTlsContext{AlpnProtocols: append([]string(nil), alpn...)}
	for _, name := range tls.SecretNames {
		common.TlsCertificateSdsSecretConfigs = append(common.TlsCertificateSdsSecretConfigs, &tlsv3.SdsSecretConfig{
			Name:      name,
			SdsConfig: adsConfigSource(),
		})
	}
	params, err := downstreamTLSParams(tls)
	if err != nil {
		return nil, err
	}
	common.TlsParams = params
	dtc := &tlsv3.DownstreamTlsContext{CommonTlsContext: common}
	if tls.ClientCA != "" {
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: tls.ClientCA, SdsConfig: adsConfigSource()},
		}
		dtc.RequireClientCertificate = wrapperspb.Bool(tls.ClientCertRequired)
	}
	a, err := toAny(dtc)
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{
		Name:       tlsTransportSocketName,
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a},
	}, nil
}

// buildTCPListener proxies every connection to the backends of the
// listener's first TCP route. A plain TCP listener has nothing to tell
// several routes apart by, so only one can be served; ir merging is where a
// second route is reported as conflicting.
func buildTCPListener(lis *listenerv3.Listener, l *ir.Listener) (*listenerv3.Listener, []*RouteConfiguration, error) {
	if len(l.TCPRoutes) == 0 {
		return nil, nil, nil
	}
	f, err := tcpProxy(statPrefix(l), l.TCPRoutes[0])
	if err != nil {
		return nil, nil, fmt.Errorf("tcp route %s: %w", l.TCPRoutes[0].Name, err)
	}
	lis.FilterChains = []*listenerv3.FilterChain{{Name: l.TCPRoutes[0].Name, Filters: []*listenerv3.Filter{f}}}
	return lis, nil, nil
}

// buildTLSPassthroughListener forwards TLS connections, choosing the
// route by the SNI of the ClientHello: unterminated, or, for a route with
// TLS, terminated in the route's chain. A route without SNI takes the
// connections no other route matches; only one may.
func buildTLSPassthroughListener(lis *listenerv3.Listener, l *ir.Listener) (*listenerv3.Listener, []*RouteConfiguration, error) {
	if len(l.TCPRoutes) == 0 {
		return nil, nil, nil
	}
	inspector, err := tlsInspector()
	if err != nil {
		return nil, nil, err
	}
	lis.ListenerFilters = []*listenerv3.ListenerFilter{inspector}
	routes := append([]*ir.TCPRoute(nil), l.TCPRoutes...)
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })
	defaultChain := ""
	for _, r := range routes {
		sni := serverNames(r.SNI)
		if sni == nil {
			if defaultChain != "" {
				return nil, nil, fmt.Errorf("tcp routes %s and %s both match any server name", defaultChain, r.Name)
			}
			defaultChain = r.Name
		}
		f, err := tcpProxy(statPrefix(l), r)
		if err != nil {
			return nil, nil, fmt.Errorf("tcp route %s: %w", r.Name, err)
		}
		chain := &listenerv3.FilterChain{
			Name:             r.Name,
			FilterChainMatch: filterChainMatch(sni),
			Filters:          []*listenerv3.Filter{f},
		}
		if r.TLS != nil {
			// Terminate here and proxy the plain bytes. No ALPN is offered
			// unless the IR names some: what the backend speaks is unknown,
			// and offering h2 would make clients speak it.
			ts, err := downstreamTLS(r.TLS, r.TLS.ALPN, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("tcp route %s: %w", r.Name, err)
			}
			chain.TransportSocket = ts
		}
		lis.FilterChains = append(lis.FilterChains, chain)
	}
	return lis, nil, nil
}

// tcpProxy forwards r's connections to one cluster, or spreads them over
// weighted clusters. Zero-weight backends are dropped (tcp_proxy requires weights of
// at least 1) unless all are zero, which ir validation rules out.
func tcpProxy(statPrefix string, r *ir.TCPRoute) (*listenerv3.Filter, error) {
	backends := nonZeroBackends(r.Backends)
	if len(backends) == 0 {
		return nil, fmt.Errorf("no backends")
	}
	tp := &tcpproxyv3.TcpProxy{StatPrefix: statPrefix}
	switch {
	case r.IdleTimeout > 0:
		tp.IdleTimeout = durationpb.New(r.IdleTimeout)
	case r.IdleTimeout < 0:
		// Zero is how Envoy spells "no idle timeout".
		tp.IdleTimeout = durationpb.New(0)
	}
	if len(backends) == 1 {
		tp.ClusterSpecifier = &tcpproxyv3.TcpProxy_Cluster{Cluster: backends[0].Cluster}
	} else {
		wc := &tcpproxyv3.TcpProxy_WeightedCluster{}
		for _, b := range backends {
			wc.Clusters = append(wc.Clusters, &tcpproxyv3.TcpProxy_WeightedCluster_ClusterWeight{Name: b.Cluster, Weight: b.Weight})
		}
		tp.ClusterSpecifier = &tcpproxyv3.TcpProxy_WeightedClusters{WeightedClusters: wc}
	}
	a, err := toAny(tp)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Filter{
		Name:       tcpProxyName,
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a},
	}, nil
}

// nonZeroBackends drops zero-weight backends when at least one has weight.
func nonZeroBackends(in []ir.WeightedBackend) []ir.WeightedBackend {
	var out []ir.WeightedBackend
	for _, b := range in {
		if b.Weight > 0 {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return in
	}
	return out
}

func socketAddress(addr string, port uint32, proto corev3.SocketAddress_Protocol) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Protocol:      proto,
		Address:       addr,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// buildUDPListener proxies datagrams to the cluster of the listener's
// first route (UDP listeners carry their routes in TCPRoutes). Envoy's UDP
// proxy routes a session to one cluster and has no weights, so a route
// with several weighted backends cannot be expressed and is an error.
func buildUDPListener(l *ir.Listener) (*listenerv3.Listener, []*RouteConfiguration, error) {
	if len(l.TCPRoutes) == 0 {
		return nil, nil, nil
	}
	r := l.TCPRoutes[0]
	backends := nonZeroBackends(r.Backends)
	if len(backends) != 1 {
		return nil, nil, fmt.Errorf("udp route %s: UDP proxying supports exactly one backend, has %d", r.Name, len(backends))
	}
	route, err := toAny(&udpproxyv3.Route{Cluster: backends[0].Cluster})
	if err != nil {
		return nil, nil, err
	}
	proxy, err := toAny(&udpproxyv3.UdpProxyConfig{
		StatPrefix: statPrefix(l),
		RouteSpecifier: &udpproxyv3.UdpProxyConfig_Matcher{Matcher: &matcherxdsv3.Matcher{
			OnNoMatch: &matcherxdsv3.Matcher_OnMatch{OnMatch: &matcherxdsv3.Matcher_OnMatch_Action{
				Action: &xdscorev3.TypedExtensionConfig{Name: "route", TypedConfig: route},
			}},
		}},
	})
	if err != nil {
		return nil, nil, err
	}
	return &listenerv3.Listener{
		Name:    l.Name,
		Address: socketAddress(l.Address, l.Port, corev3.SocketAddress_UDP),
		ListenerFilters: []*listenerv3.ListenerFilter{{
			Name:       udpProxyName,
			ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: proxy},
		}},
	}, nil, nil
}
