package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The Ingress acceptance suite: testdata/acceptance/ingress.yaml applied to
// the local cluster, and real requests through Envoy to echo-basic pods.
var _ = Describe("Ingress", Label("ingress"), Ordered, ContinueOnFailure, func() {
	const ns = "acc-ingress"
	var ca *testCA

	BeforeAll(func() {
		namespace(ns)
		echoBackends(ns, "exact", "prefix", "impl", "wild", "longest", "fallback", "foreign", "scaled")
		ca = newTestCA()
		create(
			ca.tlsSecret(ns, "tls-a", "a.tls.ingress.test"),
			ca.tlsSecret(ns, "tls-b", "b.tls.ingress.test"),
			ca.tlsSecret(ns, "tls-wildcard", "*.wc.ingress.test"),
		)
		createManifests("ingress.yaml")
		waitAvailable(ns)
		// Everything is applied at once; the first route to answer shows
		// that Legate has caught up with the pods' EndpointSlices.
		reach(ns, "exact", "paths.ingress.test", "/exact", firstConvergence)
	})

	Describe("path types", func() {
		It("Exact matches the whole path only", func() {
			r := reach(ns, "exact", "paths.ingress.test", "/exact", convergence)
			Expect(r.echo.Path).To(Equal("/exact"))
			Expect(r.echo.Host).To(Equal("paths.ingress.test"))
			for _, p := range []string{"/exact/", "/exact/more", "/exactly"} {
				r, err := get("paths.ingress.test", p)
				Expect(err).NotTo(HaveOccurred())
				Expect(r.backend()).NotTo(Equal("exact"), "GET %s: %v", p, r)
			}
		})

		It("Prefix matches whole path segments, with or without a trailing slash", func() {
			for _, p := range []string{"/foo", "/foo/", "/foo/bar", "/foo/bar/baz?q=1"} {
				r := reach(ns, "prefix", "paths.ingress.test", p, convergence)
				Expect(r.echo.Path).To(Equal(p), "the path reaches the backend unchanged")
			}
			// "/bar/" is declared with a trailing slash, which Prefix ignores.
			for _, p := range []string{"/bar", "/bar/", "/bar/x"} {
				reach(ns, "prefix", "paths.ingress.test", p, convergence)
			}
			for _, p := range []string{"/foobar", "/fo", "/barn"} {
				r, err := get("paths.ingress.test", p)
				Expect(err).NotTo(HaveOccurred())
				Expect(r.status).To(Equal(http.StatusNotFound), "GET %s is no segment of a Prefix path: %v", p, r)
			}
		})

		It("ImplementationSpecific is a plain string prefix", func() {
			for _, p := range []string{"/impl", "/impl/x", "/implicit"} {
				reach(ns, "impl", "paths.ingress.test", p, convergence)
			}
		})

		It("the longest path wins across Ingresses of one host", func() {
			for p, want := range map[string]string{
				"/api/v2":   "longest",
				"/api/v2/x": "longest",
				"/api/v1":   "prefix",
				"/api":      "prefix",
				"/api/v20":  "prefix",
			} {
				reach(ns, want, "longest.ingress.test", p, convergence)
			}
		})
	})

	Describe("hosts", func() {
		It("routes an exact host, case-insensitively", func() {
			r := reach(ns, "exact", "host.ingress.test", "/anything", convergence)
			Expect(r.echo.Host).To(Equal("host.ingress.test"))
			reach(ns, "exact", "HOST.Ingress.Test", "/anything", convergence)
		})

		It("routes a wildcard host to exactly one more DNS label", func() {
			r := reach(ns, "wild", "a.wild.ingress.test", "/x", convergence)
			Expect(r.echo.Host).To(Equal("a.wild.ingress.test"))
			reach(ns, "wild", "other.wild.ingress.test", "/", convergence)
			for _, h := range []string{"a.b.wild.ingress.test", "wild.ingress.test"} {
				r, err := get(h, "/x")
				Expect(err).NotTo(HaveOccurred())
				Expect(r.backend()).NotTo(Equal("wild"), "Host %s is not matched by *.wild.ingress.test: %v", h, r)
			}
		})
	})

	It("sends requests no rule takes to the default backend", func() {
		reach(ns, "fallback", "unknown.example", "/some/path", convergence)
		reach(ns, "fallback", "unknown.example", "/", convergence)
	})

	Describe("IngressClass", func() {
		It("ignores the Ingress of another controller's class", func() {
			// Its host is then unknown: the default backend answers.
			reach(ns, "fallback", "foreign.ingress.test", "/", convergence)
			var ing networkingv1.Ingress
			Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "foreign"}, &ing)).To(Succeed())
			Expect(ing.Status.LoadBalancer.Ingress).To(BeEmpty(), "Legate must not write another controller's status")
		})

		It("writes status.loadBalancer on its own Ingresses", func() {
			for _, name := range []string{"paths", "hosts", "tls", "fallback"} {
				Eventually(func(g Gomega) {
					var ing networkingv1.Ingress
					g.Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &ing)).To(Succeed())
					g.Expect(ing.Status.LoadBalancer.Ingress).To(ConsistOf(networkingv1.IngressLoadBalancerIngress{IP: ingressAddress}), "Ingress %s", name)
				}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
			}
		})
	})

	Describe("TLS", func() {
		It("serves each host with its own certificate, picked by SNI", func() {
			c := httpsClient(ca.pool)
			for host, want := range map[string]string{"a.tls.ingress.test": "exact", "b.tls.ingress.test": "prefix"} {
				var last *reply
				Eventually(func(g Gomega) {
					r, err := send(c, http.MethodGet, "https://"+host+"/secure")
					g.Expect(err).NotTo(HaveOccurred())
					last = r
					g.Expect(r.backend()).To(Equal(want), "reply %v", r)
				}).WithTimeout(convergence).WithPolling(poll).Should(Succeed(), "GET https://%s/secure", host)
				// The Go client checked the chain and the name; say so plainly.
				leaf := last.tls.PeerCertificates[0]
				Expect(leaf.DNSNames).To(Equal([]string{host}))
				Expect(leaf.VerifyHostname(host)).To(Succeed())
				Expect(last.echo.Path).To(Equal("/secure"))
				Expect(last.echo.Host).To(Equal(host))
			}
		})

		It("offers no certificate valid for a name it does not serve", func() {
			conn, err := tls.Dial("tcp", ingressHTTPS, &tls.Config{ServerName: "c.tls.ingress.test", RootCAs: ca.pool, MinVersion: tls.VersionTLS12})
			if err == nil {
				conn.Close()
			}
			GinkgoWriter.Printf("TLS handshake for an unknown name: %v\n", err)
			// Envoy either has no filter chain for the name (it resets the
			// connection) or offers a certificate of another name (the
			// client refuses it); a refused dial would prove nothing.
			Expect(err).To(HaveOccurred(), "a TLS handshake for an unknown name must not succeed")
			var op *net.OpError
			Expect(errors.As(err, &op) && op.Op == "dial").To(BeFalse(), "the listener must be up: %v", err)
		})

		It("serves a wildcard TLS host, and redirects its cleartext requests with force-ssl-redirect", func() {
			c := httpsClient(ca.pool)
			Eventually(func(g Gomega) {
				r, err := send(c, http.MethodGet, "https://x.wc.ingress.test/page")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(r.backend()).To(Equal("wild"), "%v", r)
				g.Expect(r.tls.PeerCertificates[0].DNSNames).To(Equal([]string{"*.wc.ingress.test"}))
			}).WithTimeout(convergence).WithPolling(poll).Should(Succeed())
			r := status(http.StatusMovedPermanently, "x.wc.ingress.test", "/page?q=1", convergence)
			Expect(r.header.Get("Location")).To(Equal("https://x.wc.ingress.test/page?q=1"))
		})

		It("keeps serving the TLS hosts over cleartext HTTP", func() {
			reach(ns, "exact", "a.tls.ingress.test", "/plain", convergence)
		})
	})

	It("keeps serving everything else when an Ingress names a missing Service", func() {
		broken := simpleIngress(ns, "broken", "broken.ingress.test", "/", "missing")
		later := simpleIngress(ns, "after-broken", "after.ingress.test", "/", "impl")
		create(broken, later)
		// An Ingress created after the broken one is served: translation
		// goes on.
		reach(ns, "impl", "after.ingress.test", "/", convergence)
		status(http.StatusServiceUnavailable, "broken.ingress.test", "/", convergence)
		reach(ns, "exact", "paths.ingress.test", "/exact", convergence)
		reach(ns, "prefix", "paths.ingress.test", "/foo/bar", convergence)
	})

	It("applies an edit and a deletion of an Ingress", func() {
		ing := simpleIngress(ns, "edited", "edited.ingress.test", "/", "exact")
		create(ing)
		reach(ns, "exact", "edited.ingress.test", "/", convergence)
		Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "edited"}, ing)).To(Succeed())
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "prefix"
		Expect(acc.k8s.Update(context.Background(), ing)).To(Succeed())
		reach(ns, "prefix", "edited.ingress.test", "/", convergence)
		Expect(acc.k8s.Delete(context.Background(), ing)).To(Succeed())
		// The host is unknown again: the default backend answers.
		reach(ns, "fallback", "edited.ingress.test", "/", convergence)
	})

	It("gives a host and path claimed by two Ingresses to the older one", func() {
		create(simpleIngress(ns, "claim-first", "claimed.ingress.test", "/claimed", "exact"))
		reach(ns, "exact", "claimed.ingress.test", "/claimed", convergence)
		second := simpleIngress(ns, "claim-second", "claimed.ingress.test", "/claimed", "impl")
		pt := networkingv1.PathTypePrefix
		second.Spec.Rules[0].HTTP.Paths = append(second.Spec.Rules[0].HTTP.Paths, networkingv1.HTTPIngressPath{
			Path: "/second", PathType: &pt,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "impl", Port: networkingv1.ServiceBackendPort{Number: 80}}},
		})
		create(second)
		// Its other path is served, so Legate has read it; the claimed
		// path stays with the first.
		reach(ns, "impl", "claimed.ingress.test", "/second", convergence)
		reach(ns, "exact", "claimed.ingress.test", "/claimed", convergence)
	})

	It("takes Ingresses without a class by the legacy annotation, or when its class is the default", func() {
		classless := simpleIngress(ns, "classless", "classless.ingress.test", "/", "exact")
		classless.Spec.IngressClassName = nil
		annotated := simpleIngress(ns, "annotated", "annotated.ingress.test", "/", "exact")
		annotated.Spec.IngressClassName = nil
		annotated.Annotations = map[string]string{"kubernetes.io/ingress.class": "legate"}
		create(classless, annotated)
		reach(ns, "exact", "annotated.ingress.test", "/", convergence)
		// Created with the annotated one, yet not Legate's.
		reach(ns, "fallback", "classless.ingress.test", "/", convergence)

		setDefault := func(on bool) {
			var class networkingv1.IngressClass
			Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Name: "legate"}, &class)).To(Succeed())
			if on {
				class.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
			} else {
				delete(class.Annotations, networkingv1.AnnotationIsDefaultIngressClass)
			}
			Expect(acc.k8s.Update(context.Background(), &class)).To(Succeed())
		}
		setDefault(true)
		DeferCleanup(setDefault, false)
		reach(ns, "exact", "classless.ingress.test", "/", convergence)
	})

	It("also sends an Ingress's own hosts' unmatched paths to its defaultBackend", func() {
		ing := simpleIngress(ns, "own-default", "owndefault.ingress.test", "/only", "exact")
		ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "impl", Port: networkingv1.ServiceBackendPort{Number: 80}}}
		create(ing)
		reach(ns, "exact", "owndefault.ingress.test", "/only/x", convergence)
		reach(ns, "impl", "owndefault.ingress.test", "/elsewhere", convergence)
		// The older Ingress "fallback" keeps the default backend of other hosts.
		reach(ns, "fallback", "unknown.example", "/", convergence)
	})

	It("still serves a host in cleartext when its TLS Secret is missing", func() {
		ing := simpleIngress(ns, "tls-missing", "nosecret.ingress.test", "/", "exact")
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"nosecret.ingress.test"}, SecretName: "no-such-secret"}}
		create(ing)
		reach(ns, "exact", "nosecret.ingress.test", "/", convergence)
	})

	It("reaches pods through a Service whose targetPort is a container port's name", func() {
		create(&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "named-target", Namespace: ns},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "exact"},
				Ports:    []corev1.ServicePort{{Name: "web", Port: 8080, TargetPort: intstr.FromString("http")}},
			},
		})
		ing := simpleIngress(ns, "named-target", "namedtarget.ingress.test", "/", "named-target")
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{Name: "web"}
		create(ing)
		reach(ns, "exact", "namedtarget.ingress.test", "/", convergence)
	})

	It("answers 503 while a Service has no ready endpoint, and serves again when it has", func() {
		create(simpleIngress(ns, "scaled", "scaled.ingress.test", "/", "scaled"))
		reach(ns, "scaled", "scaled.ingress.test", "/", convergence)
		scale := func(n int32) {
			var d appsv1.Deployment
			Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "scaled"}, &d)).To(Succeed())
			d.Spec.Replicas = ptrTo(n)
			Expect(acc.k8s.Update(context.Background(), &d)).To(Succeed())
		}
		scale(0)
		status(http.StatusServiceUnavailable, "scaled.ingress.test", "/", convergence)
		scale(1)
		reach(ns, "scaled", "scaled.ingress.test", "/", firstConvergence)
	})

	It("follows the Service's endpoints: a new pod of a scaled Deployment gets traffic", func() {
		var d appsv1.Deployment
		Expect(acc.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "impl"}, &d)).To(Succeed())
		d.Spec.Replicas = ptrTo(int32(2))
		Expect(acc.k8s.Update(context.Background(), &d)).To(Succeed())
		pods := map[string]bool{}
		Eventually(func(g Gomega) {
			r, err := get("paths.ingress.test", "/impl")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(r.backend()).To(Equal("impl"), "%v", r)
			pods[r.echo.Pod] = true
			g.Expect(pods).To(HaveLen(2))
		}).WithTimeout(firstConvergence).WithPolling(50 * time.Millisecond).Should(Succeed())
	})
})

// simpleIngress is an Ingress of class legate with one Prefix path to
// port 80 of service.
func simpleIngress(ns, name, host, path, service string) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{}
	ing.Namespace, ing.Name = ns, name
	ing.Spec.IngressClassName = ptrTo("legate")
	ing.Spec.Rules = []networkingv1.IngressRule{{
		Host: host,
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: path, PathType: &pt,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: service, Port: networkingv1.ServiceBackendPort{Number: 80}}},
		}}}},
	}}
	return ing
}
