package kube

import (
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// xdsWait bounds how long a change may take to reach the ADS client:
// debounce (50ms, at most 500ms) plus translation, with room for a loaded
// machine.
const xdsWait = 15 * time.Second

var _ = Describe("An Ingress", func() {
	It("reaches an ADS client with its routes and endpoints; updates and deletes propagate; status is written; an invalid Ingress is reported alone", func(ctx SpecContext) {
		ns := newNamespace(ctx, "ingress")
		web := newIngress(ns, "web", "web.example", "/app", "web")
		web.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"web.example"}, SecretName: "web-tls"}}
		secret := newTLSSecret(ns, "web-tls", "web.example")
		for _, obj := range []client.Object{
			newService(ns, "web"),
			newEndpointSlice(ns, "web", 8080, "192.0.2.1", "192.0.2.2"),
			secret,
			web,
		} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}

		p := startLegate(legateOptions{name: "ingress", namespace: ns})
		p.WaitReady()
		ads := p.ADS("http-8080")
		cluster := clusterName(ns, "web")
		route := routeName(ns, "web")

		By("the ADS client receiving the virtual host, route, cluster, endpoints and certificate")
		Eventually(func(g Gomega) {
			s := ads.State()
			r := s.Route("http-8080", "web.example", route)
			g.Expect(r).NotTo(BeNil(), "route %s in http-8080/web.example", route)
			g.Expect(r.GetMatch().GetPathSeparatedPrefix()).To(Equal("/app"))
			g.Expect(r.GetRoute().GetCluster()).To(Equal(cluster))
			g.Expect(s.VirtualHost("http-8080", "web.example").Domains).To(ContainElement("web.example"))
			g.Expect(s.Clusters).To(HaveKey(cluster))
			g.Expect(s.EndpointAddresses(cluster)).To(Equal([]string{"192.0.2.1:8080", "192.0.2.2:8080"}))
			// Served over HTTPS too, with the Secret's certificate over SDS.
			g.Expect(s.Route("https-8443/web.example", "web.example", route)).NotTo(BeNil())
			g.Expect(s.Secrets).To(HaveLen(1))
			for _, sec := range s.Secrets {
				g.Expect(sec.GetTlsCertificate().GetCertificateChain().GetInlineBytes()).To(Equal(secret.Data[corev1.TLSCertKey]))
			}
		}).WithTimeout(xdsWait).Should(Succeed())

		By("the Ingress getting status.loadBalancer from --status-address")
		Eventually(func(g Gomega) {
			ing := &networkingv1.Ingress{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(web), ing)).To(Succeed())
			g.Expect(loadBalancerIPs(ing)).To(Equal([]string{"192.0.2.10"}))
			g.Expect(statusManagers(ing)).To(ConsistOf(p.Identity))
		}).WithTimeout(xdsWait).Should(Succeed())

		By("an invalid Ingress getting a Warning event and leaving the others alone")
		before := ads.State().VirtualHost("http-8080", "web.example")
		Expect(before).NotTo(BeNil())
		bad := newIngress(ns, "bad", "bad.example", "/", "unused")
		bad.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{
			Resource: &corev1.TypedLocalObjectReference{APIGroup: ptrTo("example.com"), Kind: "Bucket", Name: "assets"},
		}
		Expect(k8s.Create(ctx, bad)).To(Succeed())
		Eventually(func(g Gomega) {
			events, err := clientset.CoreV1().Events(ns).List(ctx, listOptions(fields.OneTermEqualSelector("involvedObject.name", "bad")))
			g.Expect(err).NotTo(HaveOccurred())
			var reasons []string
			for _, e := range events.Items {
				if e.Type == corev1.EventTypeWarning && e.InvolvedObject.Kind == "Ingress" {
					reasons = append(reasons, e.Reason)
				}
			}
			g.Expect(reasons).To(ContainElement("ResourceBackendUnsupported"))
		}).WithTimeout(xdsWait).Should(Succeed())
		// The event is written after the snapshot holding the bad Ingress
		// was translated; give any publish of it time to arrive.
		Consistently(func(g Gomega) {
			s := ads.State()
			g.Expect(proto.Equal(s.VirtualHost("http-8080", "web.example"), before)).To(BeTrue(), "web.example changed")
			g.Expect(s.Route("http-8080", "bad.example", routeName(ns, "bad"))).To(BeNil())
			g.Expect(s.EndpointAddresses(cluster)).To(Equal([]string{"192.0.2.1:8080", "192.0.2.2:8080"}))
		}).WithTimeout(time.Second).Should(Succeed())

		By("a path change propagating")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(web), web)).To(Succeed())
		web.Spec.Rules[0].HTTP.Paths[0].Path = "/v2"
		Expect(k8s.Update(ctx, web)).To(Succeed())
		Eventually(func(g Gomega) {
			r := ads.State().Route("http-8080", "web.example", route)
			g.Expect(r.GetMatch().GetPathSeparatedPrefix()).To(Equal("/v2"))
		}).WithTimeout(xdsWait).Should(Succeed())

		By("an endpoint change propagating")
		es := newEndpointSlice(ns, "web", 8080)
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(es), es)).To(Succeed())
		es.Endpoints = es.Endpoints[1:]
		Expect(k8s.Update(ctx, es)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(ads.State().EndpointAddresses(cluster)).To(Equal([]string{"192.0.2.2:8080"}))
		}).WithTimeout(xdsWait).Should(Succeed())

		By("a delete propagating")
		Expect(k8s.Delete(ctx, web)).To(Succeed())
		Eventually(func(g Gomega) {
			s := ads.State()
			g.Expect(s.VirtualHost("http-8080", "web.example")).To(BeNil())
			g.Expect(s.Clusters).NotTo(HaveKey(cluster))
			g.Expect(s.Secrets).To(BeEmpty())
		}).WithTimeout(xdsWait).Should(Succeed())
		Expect(ads.Err()).NotTo(HaveOccurred())
		p.ExpectRunning()
	}, SpecTimeout(specTimeout))
})

// vhostNames lists the virtual hosts of a route configuration.
func vhostNames(rc *routev3.RouteConfiguration) []string {
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		out = append(out, vh.Name)
	}
	return out
}
