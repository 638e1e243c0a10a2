package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// The Emissary acceptance suite: the Mappings and Hosts of
// testdata/acceptance/emissary.yaml on the local cluster (the
// getambassador.io CRDs come from the chart), and real requests through
// Envoy to echo-basic pods.
var _ = Describe("Emissary", Label("emissary"), Ordered, ContinueOnFailure, func() {
	const ns = "acc-emissary"
	const app = "app.emissary.test"
	var ca *testCA

	BeforeAll(func() {
		namespace(ns)
		namespace(ns + "-other")
		echoBackends(ns, "em-a", "em-b")
		echoBackends(ns+"-other", "em-c")
		ca = newTestCA()
		create(ca.tlsSecret(ns, "secure-cert", "secure.emissary-tls.test", "strict.emissary-tls.test"))
		createManifests("emissary.yaml")
		waitAvailable(ns)
		waitAvailable(ns + "-other")
		reach(ns, "em-a", app, "/a/", firstConvergence)
	})

	It("routes by prefix and rewrites the prefix to / by default", func() {
		r := reach(ns, "em-a", app, "/a/hello?x=1", convergence)
		Expect(r.echo.Path).To(Equal("/hello?x=1"))
		Expect(r.echo.Host).To(Equal(app))
		// A plain string prefix, as Emissary's: /a/ does not take /a.
		r, err := get(app, "/ab")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.status).To(Equal(http.StatusNotFound), "%v", r)
	})

	It("rewrites the prefix to a custom rewrite, or keeps the path with rewrite \"\"", func() {
		r := reach(ns, "em-b", app, "/b/x/y", convergence)
		Expect(r.echo.Path).To(Equal("/rewritten/x/y"))
		r = reach(ns, "em-a", app, "/keep/x", convergence)
		Expect(r.echo.Path).To(Equal("/keep/x"))
	})

	It("routes by hostname", func() {
		reach(ns, "em-b", "other.emissary.test", "/a/x", convergence)
		reach(ns, "em-a", app, "/a/x", convergence)
		// No Mapping of that hostname has /keep/.
		status(http.StatusNotFound, "other.emissary.test", "/keep/x", convergence)
	})

	It("matches headers", func() {
		reach(ns, "em-b", app, "/hdr/", convergence, "X-Canary: yes")
		reach(ns, "em-a", app, "/hdr/", convergence, "X-Canary: no")
		reach(ns, "em-a", app, "/hdr/", convergence)
	})

	It("matches query parameters and methods", func() {
		reach(ns, "em-b", app, "/q/x?flavor=vanilla", convergence)
		reach(ns, "em-a", app, "/q/x?flavor=chocolate", convergence)
		reach(ns, "em-a", app, "/q/x", convergence)
		Eventually(func(g Gomega) {
			r, err := send(httpClient, http.MethodPost, "http://"+app+"/m/x")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(r.backend()).To(Equal("em-b"), "%v", r)
			g.Expect(r.echo.Method).To(Equal(http.MethodPost))
		}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
		reach(ns, "em-a", app, "/m/x", convergence)
	})

	It("matches prefix_exact as the whole path and case_sensitive: false in any case", func() {
		r := reach(ns, "em-b", app, "/exact-only", convergence)
		Expect(r.echo.Path).To(Equal("/exact-only"))
		status(http.StatusNotFound, app, "/exact-only/more", convergence)
		r = reach(ns, "em-b", app, "/nocase/x", convergence)
		Expect(r.echo.Path).To(Equal("/x"))
		reach(ns, "em-b", app, "/NOCASE/x", convergence)
	})

	It("rewrites the Host header with host_rewrite", func() {
		r := reach(ns, "em-a", app, "/hr/x", convergence)
		Expect(r.echo.Host).To(Equal("rewritten.example"))
	})

	It("orders by precedence before prefix length", func() {
		reach(ns, "em-b", app, "/prec/long/x", convergence)
		reach(ns, "em-b", app, "/prec/x", convergence)
	})

	It("mirrors requests to a shadow Mapping's service, whose answers are dropped", func() {
		marker := fmt.Sprintf("/shadowed-%d", time.Now().UnixNano())
		r := reach(ns, "em-a", app, "/shadow"+marker, convergence)
		Expect(r.echo.Path).To(Equal(marker))
		Eventually(func(g Gomega) {
			g.Expect(podLogs(ns, "em-b")).To(ContainSubstring("request made to " + marker + " "))
		}).WithTimeout(convergence).WithPolling(poll).Should(Succeed(), "em-b's log should show the mirrored request")
	})

	It("splits a canary by weight (30% within 10 points over 500 requests)", func() {
		reach(ns, "em-b", app, "/canary/", convergence) // both shares are served
		counts := map[string]int{}
		for range 500 {
			r, err := get(app, "/canary/")
			Expect(err).NotTo(HaveOccurred())
			Expect(r.status).To(Equal(http.StatusOK), "%v", r)
			counts[r.backend()]++
		}
		GinkgoWriter.Printf("canary split over 500 requests: %v\n", counts)
		Expect(counts).To(HaveLen(2), "only em-a and em-b: %v", counts)
		Expect(counts["em-b"]).To(BeNumerically("~", 150, 50), "em-b's 30%% share: %v", counts)
	})

	It("redirects to another host, and to another path with the code asked for", func() {
		r := status(http.StatusMovedPermanently, app, "/moved/page?q=1", convergence)
		Expect(r.header.Get("Location")).To(Equal("http://new.example.org/moved/page?q=1"))
		r = status(http.StatusFound, app, "/old/thing", convergence)
		Expect(r.header.Get("Location")).To(Equal("http://app.emissary.test/new/place"))
	})

	It("answers CORS preflights for allowed origins only", func() {
		preflight := func(origin string) *reply {
			var last *reply
			Eventually(func(g Gomega) {
				r, err := send(httpClient, http.MethodOptions, "http://"+app+"/cors/x",
					"Origin: "+origin, "Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: x-custom")
				g.Expect(err).NotTo(HaveOccurred())
				last = r
				// Envoy answers the preflight itself; the pod never sees it.
				g.Expect(r.echo).To(BeNil(), "%v", r)
			}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
			return last
		}
		r := preflight("https://allowed.example")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.header.Get("Access-Control-Allow-Origin")).To(Equal("https://allowed.example"))
		Expect(r.header.Get("Access-Control-Allow-Methods")).To(ContainSubstring("PUT"))
		Expect(r.header.Get("Access-Control-Allow-Headers")).To(ContainSubstring("x-custom"))
		Expect(r.header.Get("Access-Control-Max-Age")).To(Equal("600"))

		r = preflight("https://evil.example")
		Expect(r.header.Get("Access-Control-Allow-Origin")).To(BeEmpty(), "%v", r.header)

		// An actual request from the allowed origin reaches the pod and
		// carries the CORS headers back.
		r = reach(ns, "em-a", app, "/cors/x", convergence, "Origin: https://allowed.example")
		Expect(r.header.Get("Access-Control-Allow-Origin")).To(Equal("https://allowed.example"))
	})

	It("adds and removes request and response headers", func() {
		r := reach(ns, "em-a", app, "/headers/", convergence, "X-Remove-Me: gone", "X-Replaced: old", "X-Added: v0")
		Expect(r.echo.header("X-Remove-Me")).To(BeEmpty())
		Expect(r.echo.Headers).To(HaveKeyWithValue("X-Replaced", []string{"new"}))
		// append defaults to true: the client's value stays, Legate's is added.
		Expect(r.echo.Headers["X-Added"]).To(ConsistOf("v0", "v1"))
		Expect(r.header.Values("X-Resp")).To(Equal([]string{"r1"}))
		Expect(r.header.Values("X-Content-Type-Options")).To(BeEmpty(), "echo-basic sets it; the Mapping removes it")
		// Without the Mapping's header settings, echo-basic's header is there.
		r = reach(ns, "em-a", app, "/a/", convergence)
		Expect(r.header.Get("X-Content-Type-Options")).To(Equal("nosniff"))
	})

	It("answers 504 when the backend is slower than timeout_ms", func() {
		reach(ns, "em-a", app, "/slow/?delay=100ms", convergence)
		start := time.Now()
		r, err := get(app, "/slow/?delay=3s")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.status).To(Equal(http.StatusGatewayTimeout), "%v", r)
		Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second), "timeout_ms 500 should cut the request short")
	})

	It("times out after Emissary's default 3000 ms, and never with timeout_ms: 0", func() {
		reach(ns, "em-a", app, "/default-timeout/", convergence)
		reach(ns, "em-a", app, "/no-timeout/", convergence)
		start := time.Now()
		r, err := get(app, "/default-timeout/?delay=4s")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.status).To(Equal(http.StatusGatewayTimeout), "%v", r)
		// 3 s, not an earlier timeout (a later one would have let the 4 s
		// answer through).
		Expect(time.Since(start)).To(BeNumerically(">=", 2900*time.Millisecond))
		r, err = get(app, "/no-timeout/?delay=3500ms")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.backend()).To(Equal("em-a"), "%v", r)
	})

	It("matches prefix_regex, rewrites with regex_rewrite and matches regex_headers", func() {
		r := reach(ns, "em-b", app, "/items/42", convergence)
		Expect(r.echo.Path).To(Equal("/items/42"))
		status(http.StatusNotFound, app, "/items/abc", convergence)
		r = reach(ns, "em-a", app, "/users/ada/profile", convergence)
		Expect(r.echo.Path).To(Equal("/profiles/ada"))
		reach(ns, "em-b", app, "/rh/", convergence, "X-Version: v3")
		reach(ns, "em-a", app, "/rh/", convergence, "X-Version: v1")
	})

	It("redirects with prefix_redirect, replacing the matched prefix", func() {
		r := status(http.StatusMovedPermanently, app, "/docs/intro/page", convergence)
		Expect(r.header.Get("Location")).To(Equal("http://docs.example.org/manual/intro/page"))
	})

	It("routes to a Service of another namespace", func() {
		reach(ns+"-other", "em-c", app, "/other-ns/x", convergence)
	})

	It("retries a request whose first attempt fails", func() {
		reach(ns, "em-a", app, "/a/", convergence)
		for i := range 3 {
			r, err := get(app, fmt.Sprintf("/retry/?uuid=retried-%d&succeedAfter=1", i))
			Expect(err).NotTo(HaveOccurred())
			Expect(r.backend()).To(Equal("em-a"), "with retry_policy the reset attempt is retried: %v", r)
		}
		// The same backend behind a Mapping without retry_policy fails.
		r, err := get(app, "/no-retry/?uuid=not-retried&succeedAfter=1")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.status).To(BeNumerically(">=", 500), "without retry_policy the reset reaches the client: %v", r)
	})

	It("upgrades to WebSocket with allow_upgrade, and only with it", func() {
		reach(ns, "em-a", app, "/a/", convergence)
		code, echo := websocketEcho(app, "/ws", "hello through envoy")
		Expect(code).To(Equal(http.StatusSwitchingProtocols))
		Expect(echo).To(Equal("hello through envoy"))
		code, _ = websocketEcho(app, "/no-ws", "")
		Expect(code).NotTo(Equal(http.StatusSwitchingProtocols), "no allow_upgrade on that Mapping")
	})

	It("serves only the Mappings a Host's mappingSelector selects", func() {
		reach(ns, "em-a", "sel.emissary-sel.test", "/sel/x", convergence)
		status(http.StatusNotFound, "sel.emissary-sel.test", "/unsel/x", convergence)
	})

	It("shares a hostname with an Ingress under an exact Host, each reaching its own backend", func() {
		r := reach(ns, "em-b", "shared.emissary-exact.test", "/ingress/x", convergence)
		Expect(r.echo.Path).To(Equal("/ingress/x"))
		r = reach(ns, "em-a", "shared.emissary-exact.test", "/mapping/x", convergence)
		Expect(r.echo.Path).To(Equal("/x"))
	})

	// Fails today: the Mapping's route is put in the wildcard Host's
	// virtual host (*.emissary.test, with an :authority match), while the
	// Ingress makes a virtual host for the exact name, which Envoy prefers;
	// the Mapping is never reached and nothing reports it (README).
	It("shares a hostname with an Ingress under a wildcard Host, each reaching its own backend", func() {
		r := reach(ns, "em-b", "shared.emissary.test", "/ingress/x", convergence)
		Expect(r.echo.Path).To(Equal("/ingress/x"))
		r = reach(ns, "em-a", "shared.emissary.test", "/mapping/x", convergence)
		Expect(r.echo.Path).To(Equal("/x"))
	})

	It("applies an edit and a deletion of a Mapping", func() {
		m := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "getambassador.io/v3alpha1", "kind": "Mapping",
			"metadata": map[string]any{"name": "edited", "namespace": ns},
			"spec":     map[string]any{"hostname": app, "prefix": "/edited/", "service": "em-b"},
		}}
		create(m)
		reach(ns, "em-b", app, "/edited/", convergence)
		Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "edited"}, m)).To(Succeed())
		Expect(unstructured.SetNestedField(m.Object, "em-a", "spec", "service")).To(Succeed())
		Expect(acc.k8s.Update(context.Background(), m)).To(Succeed())
		reach(ns, "em-a", app, "/edited/", convergence)
		Expect(acc.k8s.Delete(context.Background(), m)).To(Succeed())
		status(http.StatusNotFound, app, "/edited/", convergence)
	})

	Describe("a Host with a tlsSecret and insecure action Redirect", func() {
		const host = "secure.emissary-tls.test"

		It("terminates TLS with the Host's certificate", func() {
			c := httpsClient(ca.pool)
			var last *reply
			Eventually(func(g Gomega) {
				r, err := send(c, http.MethodGet, "https://"+host+"/in/tls")
				g.Expect(err).NotTo(HaveOccurred())
				last = r
				g.Expect(r.backend()).To(Equal("em-b"), "%v", r)
			}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
			Expect(last.tls.PeerCertificates[0].DNSNames).To(ContainElement(host))
			Expect(last.echo.Path).To(Equal("/in/tls"), "prefix / rewritten to / keeps the path")
		})

		It("redirects cleartext requests to https", func() {
			r := status(http.StatusMovedPermanently, host, "/x?q=1", convergence)
			Expect(r.header.Get("Location")).To(Equal("https://" + host + "/x?q=1"))
		})

		It("rejects cleartext requests with 400 when the action is Reject", func() {
			c := httpsClient(ca.pool)
			Eventually(func(g Gomega) {
				r, err := send(c, http.MethodGet, "https://strict.emissary-tls.test/x")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(r.backend()).To(Equal("em-a"), "%v", r)
			}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
			status(http.StatusBadRequest, "strict.emissary-tls.test", "/x", convergence)
		})
	})

	Describe("status", func() {
		mapping := func(name string) (state, reason string) {
			GinkgoHelper()
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: "getambassador.io", Version: "v3alpha1", Kind: "Mapping"})
			Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, u)).To(Succeed())
			state, _, _ = unstructured.NestedString(u.Object, "status", "state")
			reason, _, _ = unstructured.NestedString(u.Object, "status", "reason")
			return state, reason
		}

		It("is Running for a served Mapping", func() {
			for _, name := range []string{"prefix-a", "canary-new", "secure", "strict", "shadow-copy", "websocket"} {
				Eventually(func() string { s, _ := mapping(name); return s }).
					WithTimeout(convergence).WithPolling(poll).Should(Equal("Running"), "Mapping %s", name)
			}
		})

		It("is Ready for a Host with its TLS Secret", func() {
			for _, name := range []string{"apps", "secure", "strict", "shared-exact", "selective"} {
				Eventually(func(g Gomega) {
					u := &unstructured.Unstructured{}
					u.SetGroupVersionKind(schema.GroupVersionKind{Group: "getambassador.io", Version: "v3alpha1", Kind: "Host"})
					g.Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, u)).To(Succeed())
					state, _, _ := unstructured.NestedString(u.Object, "status", "state")
					g.Expect(state).To(Equal("Ready"), "Host %s: %v", name, u.Object["status"])
				}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
			}
		})

		It("is Inactive, with the reason, for an invalid Mapping, whose routes are not served", func() {
			for name, field := range map[string]string{"bad-override": "envoy_override", "bad-regex": "prefix"} {
				Eventually(func(g Gomega) {
					s, reason := mapping(name)
					g.Expect(s).To(Equal("Inactive"), "Mapping %s", name)
					g.Expect(reason).To(ContainSubstring(field), "Mapping %s", name)
				}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
			}
			r, err := get(app, "/bad/")
			Expect(err).NotTo(HaveOccurred())
			Expect(r.status).To(Equal(http.StatusNotFound), "%v", r)
		})
	})
})

// websocketEcho opens a WebSocket to host+path through Envoy's HTTP
// listener and, when the upgrade succeeds, sends msg in one text frame and
// returns the payload of the frame that comes back.
func websocketEcho(host, path, msg string) (code int, echo string) {
	GinkgoHelper()
	conn, err := net.DialTimeout("tcp", ingressHTTP, 5*time.Second)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	Expect(conn.SetDeadline(time.Now().Add(10 * time.Second))).To(Succeed())
	// The key and its accept value are RFC 6455's example.
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://%s\r\n\r\n", path, host, host)
	Expect(err).NotTo(HaveOccurred())
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	Expect(resp.Header.Get("Sec-WebSocket-Accept")).To(Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
	// A client's frame is masked (RFC 6455 5.3); payloads here are < 126.
	Expect(len(msg)).To(BeNumerically("<", 126))
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	frame := append([]byte{0x81, 0x80 | byte(len(msg))}, mask[:]...)
	for i := range len(msg) {
		frame = append(frame, msg[i]^mask[i%4])
	}
	_, err = conn.Write(frame)
	Expect(err).NotTo(HaveOccurred())
	head := make([]byte, 2)
	_, err = io.ReadFull(br, head)
	Expect(err).NotTo(HaveOccurred())
	Expect(head[0]).To(Equal(byte(0x81)), "a final text frame")
	Expect(head[1]&0x80).To(BeZero(), "a server's frame is not masked")
	payload := make([]byte, head[1]&0x7f)
	_, err = io.ReadFull(br, payload)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(payload)
}

// podLogs is the log of every pod of Deployment name (label app=name) in
// ns, read through the API server as kubectl logs does.
func podLogs(ns, name string) string {
	GinkgoHelper()
	pods, err := acc.env.cluster.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	Expect(err).NotTo(HaveOccurred())
	var sb strings.Builder
	for _, p := range pods.Items {
		b, err := acc.env.cluster.Clientset.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(context.Background())
		Expect(err).NotTo(HaveOccurred(), "logs of pod %s/%s", ns, p.Name)
		sb.Write(b)
	}
	return sb.String()
}
