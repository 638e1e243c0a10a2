package kube

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	getambassadorv3alpha1 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
)

func init() {
	utilruntimeMust(getambassadorv3alpha1.AddToScheme(scheme.Scheme))
}

var _ = Describe("An Emissary Mapping", func() {
	It("reaches an ADS client unchanged from Emissary, and gets Emissary's state and reason", func(ctx SpecContext) {
		ns := newNamespace(ctx, "mapping")
		good := &getambassadorv3alpha1.Mapping{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: getambassadorv3alpha1.MappingSpec{
				Hostname: "mapping.example", Prefix: "/web/", Service: "web." + ns + ":80",
			},
		}
		bad := &getambassadorv3alpha1.Mapping{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "override"},
			Spec: getambassadorv3alpha1.MappingSpec{
				Hostname: "mapping.example", Prefix: "/raw/", Service: "web." + ns + ":80",
				EnvoyOverride: &runtime.RawExtension{Raw: []byte(`{"route":{"cluster":"anything"}}`)},
			},
		}
		// A Host for the Mappings' hostname (no TLS: served in cleartext),
		// and one whose tlsSecret does not exist.
		host := &getambassadorv3alpha1.Host{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mapping"},
			Spec:       getambassadorv3alpha1.HostSpec{Hostname: "mapping.example"},
		}
		brokenHost := &getambassadorv3alpha1.Host{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"},
			Spec: getambassadorv3alpha1.HostSpec{
				Hostname: "broken.example", TLSSecret: &corev1.SecretReference{Name: "nowhere"},
			},
		}
		for _, obj := range []client.Object{newService(ns, "web"), newEndpointSlice(ns, "web", 8080, "192.0.2.9"), good, bad, host, brokenHost} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}
		p := startLegate(legateOptions{name: "mapping", namespace: ns})
		p.WaitReady()
		ads := p.ADS("http-8080")

		By("the Mapping's route on the shared HTTP listener, its prefix rewritten to /")
		Eventually(func(g Gomega) {
			s := ads.State()
			r := s.Route("http-8080", "mapping.example", "mapping/"+ns+"/web")
			g.Expect(r).NotTo(BeNil())
			g.Expect(r.GetMatch().GetPrefix()).To(Equal("/web/"))
			g.Expect(r.GetRoute().GetPrefixRewrite()).To(Equal("/"))
			g.Expect(s.Route("http-8080", "mapping.example", "mapping/"+ns+"/override")).To(BeNil())
		}).WithTimeout(xdsWait).Should(Succeed())

		By("status: Running for the good Mapping, Inactive with the reason for envoy_override")
		Eventually(func(g Gomega) {
			m := &getambassadorv3alpha1.Mapping{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(good), m)).To(Succeed())
			g.Expect(m.Status).NotTo(BeNil())
			g.Expect(m.Status.State).To(Equal("Running"))
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(bad), m)).To(Succeed())
			g.Expect(m.Status).NotTo(BeNil())
			g.Expect(m.Status.State).To(Equal("Inactive"))
			g.Expect(m.Status.Reason).To(ContainSubstring("envoy_override"))
		}).WithTimeout(xdsWait).Should(Succeed())

		By("Host status: Ready for the served Host, Error with the reason for the missing Secret")
		Eventually(func(g Gomega) {
			h := &getambassadorv3alpha1.Host{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(host), h)).To(Succeed())
			g.Expect(h.Status.State).To(Equal(getambassadorv3alpha1.HostState("Ready")))
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(brokenHost), h)).To(Succeed())
			g.Expect(h.Status.State).To(Equal(getambassadorv3alpha1.HostState("Error")))
			g.Expect(h.Status.ErrorReason).To(ContainSubstring("nowhere"))
		}).WithTimeout(xdsWait).Should(Succeed())
	}, SpecTimeout(specTimeout))
})
