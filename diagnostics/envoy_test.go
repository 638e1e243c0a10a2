package diagnostics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/internal/testenv"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
	"github.com/legateproxy/legate/xds"
)

// registry is the translators serve runs, in its order.
func registry() *translators.Registry {
	return translators.NewRegistry(ingress.New(), gatewayapi.New(), emissary.New(emissary.Options{AmbassadorID: "default"}))
}

func runCase(t *testing.T, path string) *pipeline.Output {
	t.Helper()
	reg := registry()
	in, err := file.LoadPaths(reg, file.Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&pipeline.Pipeline{Registry: reg, Settings: translators.DefaultSettings()}).Run(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range out.Statuses {
		if !st.Accepted() {
			t.Fatalf("%s not accepted: %+v", st.Object, st.Problems)
		}
	}
	return out
}

// TestExplainerAgreesWithEnvoy sends a few hundred generated requests to a
// real Envoy running the published route tables of a mixed Ingress,
// Mapping and HTTPRoute configuration, each cluster pointed at a loopback
// backend that answers with its cluster's name, and checks that the
// explainer predicted what Envoy did: the cluster (for a weighted split,
// one of its clusters), the redirect or direct-response status, or 404.
func TestExplainerAgreesWithEnvoy(t *testing.T) {
	envoy := testenv.Envoy(t)
	out := runCase(t, "testdata/differential.yaml")
	res := out.Resources

	backends := map[string]string{} // cluster -> host:port
	for _, c := range res.Clusters {
		backends[c.GetName()] = startBackend(t, c.GetName())
	}
	ports := map[string]int{} // listener -> port Envoy listens on
	boot := &bootstrapv3.Bootstrap{
		Node:            &corev3.Node{Id: "differential", Cluster: "test"},
		Admin:           &bootstrapv3.Admin{Address: sockAddr("127.0.0.1", testenv.FreePort(t))},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{},
	}
	routes := map[string]*routev3.RouteConfiguration{}
	for _, kept := range res.Routes {
		rc, err := kept.Message()
		if err != nil {
			t.Fatal(err)
		}
		routes[rc.GetName()] = rc
	}
	for _, l := range res.Listeners {
		l = proto.Clone(l).(*listenerv3.Listener)
		if !inlineHTTPRoutes(t, l, routes) {
			continue
		}
		ports[l.GetName()] = testenv.FreePort(t)
		l.Address = sockAddr("127.0.0.1", ports[l.GetName()])
		boot.StaticResources.Listeners = append(boot.StaticResources.Listeners, l)
	}
	for _, f := range diffFamilies {
		if ports[f.listener] == 0 {
			t.Fatalf("no HTTP listener %s among %v", f.listener, ports)
		}
	}
	for _, kept := range res.Clusters {
		c, err := kept.Message()
		if err != nil {
			t.Fatal(err)
		}
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
		c.EdsClusterConfig = nil
		host, port, _ := net.SplitHostPort(backends[c.GetName()])
		var p int
		fmt.Sscan(port, &p)
		c.LoadAssignment = &endpointv3.ClusterLoadAssignment{ClusterName: c.GetName(), Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: sockAddr(host, p)}}}},
		}}}
		boot.StaticResources.Clusters = append(boot.StaticResources.Clusters, c)
	}
	startEnvoy(t, envoy, boot, ports)

	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rng := rand.New(rand.NewPCG(9, 2026))
	const n = 600
	outcomes := map[string]int{}
	for i := range n {
		q := generateRequest(rng)
		ex, err := ExplainResources(res, out.IR, q)
		if err != nil {
			t.Fatalf("request %d %+v: %v", i, q, err)
		}
		got := sendRequest(t, client, ports[q.Listener], q.Request)
		outcomes[string(ex.Action.Kind)]++
		if msg := disagreement(ex, got); msg != "" {
			t.Errorf("request %d: %s %s host %q headers %v on %s:\n  %s\n  explainer: route %q, action %+v, skipped %+v",
				i, cmpOr(q.Method, "GET"), q.Path, q.Host, q.Headers, q.Listener, msg, ex.Route, ex.Action, ex.Skipped)
		}
	}
	t.Logf("%d requests, outcomes %v", n, outcomes)
	// The generator must exercise every kind of outcome, or the comparison
	// proves less than it claims.
	for _, k := range []ActionKind{ActionForward, ActionNotFound, ActionRedirect} {
		if outcomes[string(k)] < 10 {
			t.Errorf("only %d requests ended in %s", outcomes[string(k)], k)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// envoyAnswer is what Envoy did with a request.
type envoyAnswer struct {
	status  int
	cluster string // the backend's answer, "" if no backend answered
}

func disagreement(ex Explanation, got envoyAnswer) string {
	switch ex.Action.Kind {
	case ActionForward:
		if got.cluster == "" || !slices.Contains(ex.Action.ClusterNames(), got.cluster) {
			return fmt.Sprintf("Envoy answered %d from cluster %q, explainer predicted %v", got.status, got.cluster, ex.Action.ClusterNames())
		}
	default:
		if got.cluster != "" || got.status != ex.Action.Status {
			return fmt.Sprintf("Envoy answered %d from cluster %q, explainer predicted %s %d", got.status, got.cluster, ex.Action.Kind, ex.Action.Status)
		}
	}
	return ""
}

// requestFamily is a listener with the hosts and paths its routes are
// about; most generated requests stay inside one family so that they reach
// routes, the rest mix everything to probe misses.
type requestFamily struct {
	listener string
	hosts    []string
	paths    []string
}

var (
	diffFamilies = []requestFamily{
		{"http-8080", []string{"shop.example.com", "SHOP.Example.com", "shop.example.com:8080", "shop.example.org"},
			[]string{"/", "/api", "/api/", "/apix", "/api/v2", "/api/v2/x", "/api/v2x", "/api/mapping", "/api/mapping/z", "/exact", "/exact/", "/Exact", "/x/../api/v2", "/api/./v2", "/api/v2/..", "/exact/.", "/../exact"}},
		{"http-8080", []string{"a.wild.example.com", "b.wild.example.com:99", "a.b.wild.example.com", "wild.example.com", "other.org"},
			[]string{"/", "/static", "/static/x", "/staticx", "/mapped/", "/mapped", "/mapped/a", "/health", "/health/x", "/catch", "/catchall"}},
		{"http-8080", []string{"mapping.example.com", "mapping.example.com:1234", "Mapping.Example.Com"},
			[]string{"/m/", "/m", "/m/items/12", "/m/items/ab", "/m/items/12/x", "/m/search", "/m/searchx", "/m/user", "/m/user/x",
				"/caseless/x", "/CASELESS", "/CaseLessly", "/split/a", "/split", "/other", "/m/./items/7", "/m/user/../search"}},
		{"gateway-default-gw-80", []string{"gw.example.com", "x.gw.example.com", "x.y.gw.example.com", "GW.example.com:80", "gw.example.org"},
			[]string{"/gw", "/gw/", "/gw/items", "/gw/items/x", "/gwx", "/gwsplit", "/gwsplit/a", "/re/abc", "/re/ab/", "/re/abd", "/re/",
				"/old", "/old/x", "/oldx", "/nothing"}},
	}
	diffQueries = []string{"", "", "", "?lang=en", "?lang=en&page=3", "?page=x&lang=en", "?lang=fr&page=2", "?v=5", "?v=x", "?v=1&x=2"}
	diffHeaders = [][]Header{
		{{"x-canary", "true"}}, {{"x-canary", "false"}}, {{"x-user", "bob"}}, {{"x-user", "Bob1"}},
		{{"x-env", "staging"}}, {{"x-env", "prod"}}, {{"X-Env", "staging"}, {"x-canary", "true"}},
	}
	diffMethods = []string{"GET", "GET", "GET", "POST", "PATCH"}
)

func generateRequest(rng *rand.Rand) ExplainQuery {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	fam := diffFamilies[rng.IntN(len(diffFamilies))]
	listener, host, path := fam.listener, pick(fam.hosts), pick(fam.paths)
	if rng.IntN(5) == 0 {
		// Mix families: another listener's host, another family's path.
		listener = diffFamilies[rng.IntN(len(diffFamilies))].listener
		path = pick(diffFamilies[rng.IntN(len(diffFamilies))].paths)
	}
	q := ExplainQuery{Listener: listener, Request: Request{
		Method: pick(diffMethods), Scheme: "http", Host: host, Path: path + pick(diffQueries),
	}}
	if rng.IntN(2) == 0 {
		q.Headers = diffHeaders[rng.IntN(len(diffHeaders))]
	}
	return q
}

func sendRequest(t *testing.T, client *http.Client, port int, r Request) envoyAnswer {
	t.Helper()
	req, err := http.NewRequest(r.Method, fmt.Sprintf("http://127.0.0.1:%d%s", port, r.Path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = r.Host
	for _, h := range r.Headers {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s host %q: %v", r.Method, r.Path, r.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return envoyAnswer{status: resp.StatusCode, cluster: resp.Header.Get("X-Backend-Cluster")}
}

// startBackend serves HTTP on loopback, answering every request with the
// cluster's name in a response header.
func startBackend(t *testing.T, cluster string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Backend-Cluster", cluster)
		_, _ = io.WriteString(w, cluster)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return lis.Addr().String()
}

func sockAddr(host string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// inlineHTTPRoutes replaces the RDS reference of a plain HTTP listener's
// connection manager by the route table itself. It reports false for
// listeners that are not plain HTTP (TLS, TCP), which the test leaves out.
func inlineHTTPRoutes(t *testing.T, l *listenerv3.Listener, routes map[string]*routev3.RouteConfiguration) bool {
	t.Helper()
	if len(l.GetFilterChains()) != 1 || l.GetFilterChains()[0].GetTransportSocket() != nil {
		return false
	}
	for _, f := range l.GetFilterChains()[0].GetFilters() {
		a := f.GetTypedConfig()
		if !a.MessageIs(&hcmv3.HttpConnectionManager{}) {
			continue
		}
		hcm := &hcmv3.HttpConnectionManager{}
		if err := a.UnmarshalTo(hcm); err != nil {
			t.Fatal(err)
		}
		rc := routes[hcm.GetRds().GetRouteConfigName()]
		if rc == nil {
			t.Fatalf("listener %s: no route configuration %q", l.GetName(), hcm.GetRds().GetRouteConfigName())
		}
		hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: rc}
		packed, err := anypb.New(hcm)
		if err != nil {
			t.Fatal(err)
		}
		f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: packed}
		return true
	}
	return false
}

func startEnvoy(t *testing.T, envoy string, boot *bootstrapv3.Bootstrap, ports map[string]int) {
	t.Helper()
	y, err := xds.MarshalYAML(boot)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bootstrap.yaml")
	if err := os.WriteFile(path, y, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "envoy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, envoy, "-c", path, "--disable-hot-restart", "--log-level", "warn", "--concurrency", "1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("Envoy log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for _, port := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) || cmd.ProcessState != nil {
				b, _ := os.ReadFile(logPath)
				t.Fatalf("Envoy did not open port %d: %v\n%s", port, err, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestClustersShowEnvoyHealth attaches the admin server to a real Envoy
// whose copy of one published cluster has two hosts under an active HTTP
// health check: a live backend and a port nothing listens on. The clusters
// API and page must report the live host HEALTHY and the dead one
// UNHEALTHY because it failed its health check, as Envoy sees them.
func TestClustersShowEnvoyHealth(t *testing.T) {
	envoy := testenv.Envoy(t)
	out := runCase(t, "testdata/differential.yaml")
	if len(out.Resources.Clusters) == 0 {
		t.Fatal("the case has no clusters")
	}
	c, err := out.Resources.Clusters[0].Message()
	if err != nil {
		t.Fatal(err)
	}
	live := startBackend(t, c.GetName())
	host, port, _ := net.SplitHostPort(live)
	var livePort int
	fmt.Sscan(port, &livePort)
	deadPort := testenv.FreePort(t)
	c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	c.EdsClusterConfig = nil
	c.LoadAssignment = &endpointv3.ClusterLoadAssignment{ClusterName: c.GetName(), Endpoints: []*endpointv3.LocalityLbEndpoints{{
		LbEndpoints: []*endpointv3.LbEndpoint{
			{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: sockAddr(host, livePort)}}},
			{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: sockAddr("127.0.0.1", deadPort)}}},
		},
	}}}
	// The health check names a Host: by default Envoy sends the cluster name,
	// whose slashes a Go server refuses as a Host header.
	c.HealthChecks = []*corev3.HealthCheck{{
		Timeout:            durationpb.New(500 * time.Millisecond),
		Interval:           durationpb.New(200 * time.Millisecond),
		UnhealthyThreshold: wrapperspb.UInt32(1),
		HealthyThreshold:   wrapperspb.UInt32(1),
		HealthChecker:      &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &corev3.HealthCheck_HttpHealthCheck{Host: "health.test", Path: "/healthz"}},
	}}
	adminPort := testenv.FreePort(t)
	startEnvoy(t, envoy, &bootstrapv3.Bootstrap{
		Node:            &corev3.Node{Id: "health", Cluster: "test"},
		Admin:           &bootstrapv3.Admin{Address: sockAddr("127.0.0.1", adminPort)},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{Clusters: []*clusterv3.Cluster{c}},
	}, map[string]int{"admin": adminPort})

	s := New(Options{EnvoyAdmin: fmt.Sprintf("http://127.0.0.1:%d", adminPort)})
	s.Update(out, "v1")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	want := map[string]string{live: "HEALTHY", fmt.Sprintf("127.0.0.1:%d", deadPort): "UNHEALTHY"}
	var got map[string]EnvoyHost
	deadline := time.Now().Add(20 * time.Second)
	for {
		var cv ClustersView
		getJSON(t, srv, "/api/v1/clusters", &cv)
		if cv.EnvoyError != "" {
			t.Fatalf("envoy admin: %s", cv.EnvoyError)
		}
		got = map[string]EnvoyHost{}
		for _, v := range cv.Clusters {
			if v.Name == c.GetName() {
				for _, h := range v.EnvoyHosts {
					got[h.Address] = h
				}
			} else if len(v.EnvoyHosts) != 0 {
				t.Fatalf("cluster %s is unknown to Envoy, want no hosts, got %+v", v.Name, v.EnvoyHosts)
			}
		}
		settled := len(got) == len(want)
		for addr, health := range want {
			settled = settled && got[addr].Health == health
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Envoy's view of %s never settled: got %+v, want %v", c.GetName(), got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	dead := got[fmt.Sprintf("127.0.0.1:%d", deadPort)]
	if !slices.Contains(dead.Reasons, "failed active health check") {
		t.Errorf("dead host reasons %v lack the failed health check", dead.Reasons)
	}
	page := string(get(t, srv, "/clusters", http.StatusOK))
	for _, w := range []string{live + " healthy", fmt.Sprintf("127.0.0.1:%d <span class=\"err\">UNHEALTHY; failed active health check", deadPort)} {
		if !strings.Contains(page, w) {
			t.Errorf("clusters page lacks %q", w)
		}
	}

	// An Envoy that cannot be reached is said so, and the rest still shows.
	gone := New(Options{EnvoyAdmin: fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))})
	gone.Update(out, "v1")
	gsrv := httptest.NewServer(gone.Handler())
	defer gsrv.Close()
	var cv ClustersView
	getJSON(t, gsrv, "/api/v1/clusters", &cv)
	if cv.EnvoyError == "" || len(cv.Clusters) != len(out.IR.Clusters) {
		t.Errorf("unreachable Envoy: error %q, %d clusters", cv.EnvoyError, len(cv.Clusters))
	}
}

// TestNormalizePathAgreesWithEnvoy sends request targets with dot
// segments, percent-encodings and odd slashes to a real Envoy running the
// connection manager of a listener Legate built, with one catch-all route
// to a backend that echoes the path it received: Envoy forwards the
// normalised path, so the explainer's NormalizePath must produce exactly
// that, or it would route a different path than Envoy does.
func TestNormalizePathAgreesWithEnvoy(t *testing.T) {
	envoy := testenv.Envoy(t)
	out := runCase(t, "testdata/differential.yaml")
	var lis *listenerv3.Listener
	for _, l := range out.Resources.Listeners {
		if len(l.GetFilterChains()) == 1 && l.GetFilterChains()[0].GetTransportSocket() == nil {
			lis = proto.Clone(l).(*listenerv3.Listener)
			break
		}
	}
	if lis == nil {
		t.Fatal("no plain HTTP listener in the case")
	}
	echo := startPathEcho(t)
	host, portStr, _ := net.SplitHostPort(echo)
	var echoPort int
	fmt.Sscan(portStr, &echoPort)
	catchAll := &routev3.RouteConfiguration{Name: "echo", VirtualHosts: []*routev3.VirtualHost{{
		Name: "all", Domains: []string{"*"},
		Routes: []*routev3.Route{{
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "echo"}}},
		}},
	}}}
	for _, f := range lis.GetFilterChains()[0].GetFilters() {
		if !f.GetTypedConfig().MessageIs(&hcmv3.HttpConnectionManager{}) {
			continue
		}
		hcm := &hcmv3.HttpConnectionManager{}
		if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
			t.Fatal(err)
		}
		hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: catchAll}
		packed, err := anypb.New(hcm)
		if err != nil {
			t.Fatal(err)
		}
		f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: packed}
	}
	port := testenv.FreePort(t)
	lis.Address = sockAddr("127.0.0.1", port)
	startEnvoy(t, envoy, &bootstrapv3.Bootstrap{
		Node:  &corev3.Node{Id: "normalize", Cluster: "test"},
		Admin: &bootstrapv3.Admin{Address: sockAddr("127.0.0.1", testenv.FreePort(t))},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: []*listenerv3.Listener{lis},
			Clusters: []*clusterv3.Cluster{{
				Name:                 "echo",
				ConnectTimeout:       durationpb.New(time.Second),
				ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
				LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: "echo", Endpoints: []*endpointv3.LocalityLbEndpoints{{
					LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: sockAddr(host, echoPort)}}}},
				}}},
			}},
		},
	}, map[string]int{"http": port})

	for _, target := range []string{
		"/", "/a/b", "/a/./b", "/a/../b", "/../a", "/a/..", "/a/b/.", "/a/b/..?x=/../", "/a/.b/..c",
		"/a/%2e%2e/b", "/a/%2E/b", "/a/.%2e/b", "/%61bc", "/a%2Fb", "/a%2fb/../c", "/a//b", "//a/../b",
		"/a%20b", "/a%zz", "/caf%C3%A9", "/a/b/%2e%2e%2fc", "/a?q=%2e%2e", "/a/b/..%3Fq",
		"/%7e%2D%5F%41%30", "/%7E/%2e", "/a%2", "/a%", "/%41%2F%42",
	} {
		status, got := rawGet(t, port, target)
		want := NormalizePath(target)
		switch {
		case status == http.StatusBadRequest:
			if checkEscapes(target) == nil {
				t.Errorf("%s: Envoy answers 400, the explainer would route it", target)
			}
			continue
		case checkEscapes(target) != nil:
			t.Errorf("%s: the explainer refuses it (%v), Envoy answers %d", target, checkEscapes(target), status)
		case status != http.StatusOK:
			t.Errorf("%s: status %d", target, status)
		case got != want:
			t.Errorf("%s: Envoy forwarded %q, NormalizePath gives %q", target, got, want)
		}
	}
}

// startPathEcho serves HTTP on loopback, answering with the request target
// exactly as it arrived.
func startPathEcho(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RequestURI)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return lis.Addr().String()
}

// rawGet sends target on the wire unchanged (Go's client would clean it)
// and returns the status and body.
func rawGet(t *testing.T, port int, target string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: normalize.test\r\nConnection: close\r\n\r\n", target); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
