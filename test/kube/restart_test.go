package kube

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The API server is stopped and started again through envtest's own
// process handling. That works because the suite gives the API server a
// certificate folder of its own (see BeforeSuite): envtest would otherwise
// make a new temporary folder, and so a new serving CA, on the restart, and
// every kubeconfig written before it (legate's) would fail TLS verification.
// etcd keeps running, so the cluster's state survives, as it does when a
// real control plane restarts its API servers.
var _ = Describe("An API server restart", func() {
	It("leaves xDS serving the last snapshot, also to clients that connect during the outage, and changes after the restart arrive", func(ctx SpecContext) {
		ns := newNamespace(ctx, "restart")
		for _, obj := range []client.Object{
			newService(ns, "app"),
			newEndpointSlice(ns, "app", 8080, "192.0.2.4"),
			newIngress(ns, "before", "before.example", "/", "app"),
		} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}
		// A short lease, so that the outage outlasts it: the status writer
		// loses the lease and has to win it back after the restart.
		p := startLegate(legateOptions{name: "restart", namespace: ns, args: shortLease})
		p.WaitReady()
		ads := p.ADS("http-8080")
		cluster := clusterName(ns, "app")
		_, err := ads.WaitFor(xdsWait, func(s adsState) bool {
			return s.VirtualHost("http-8080", "before.example") != nil && len(s.EndpointAddresses(cluster)) == 1
		})
		Expect(err).NotTo(HaveOccurred())
		served := ads.State()

		By("stopping kube-apiserver")
		apiServer := testEnv.ControlPlane.APIServer
		Expect(apiServer.Stop()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			// The rest of the suite needs the API server even if this spec
			// fails half-way.
			if !restarted {
				Expect(apiServer.Start()).To(Succeed())
			}
		})
		down, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = k8s.Get(down, client.ObjectKey{Namespace: ns, Name: "before"}, &networkingv1.Ingress{})
		cancel()
		Expect(err).To(HaveOccurred(), "the API server still answers")
		// Keep the API server away until legate has lost the lease (its
		// renewals failing for the renew deadline).
		Eventually(p.Logs).WithTimeout(15 * time.Second).Should(ContainSubstring("no longer leading"))

		By("a new ADS client connecting during the outage and getting the full configuration")
		during := p.ADS("http-8080")
		_, err = during.WaitFor(xdsWait, func(s adsState) bool {
			return len(s.Routes) == len(served.Routes) && len(s.Endpoints) == len(served.Endpoints)
		})
		Expect(err).NotTo(HaveOccurred())
		expectSameResources(during.State(), served)
		// And the first client was sent nothing new (no empty snapshot).
		expectSameResources(ads.State(), served)
		p.ExpectRunning()

		By("starting kube-apiserver again")
		Expect(apiServer.Start()).To(Succeed())
		restarted = true
		restartedAt := time.Now()

		By("a change made after the restart reaching both clients, and getting its status")
		after := newIngress(ns, "after", "after.example", "/", "app")
		Eventually(func() error { return k8s.Create(ctx, after) }).WithTimeout(30 * time.Second).Should(Succeed())
		for _, c := range []*adsClient{ads, during} {
			_, err := c.WaitFor(60*time.Second, func(s adsState) bool { return s.VirtualHost("http-8080", "after.example") != nil })
			Expect(err).NotTo(HaveOccurred(), "the Ingress created after the restart did not arrive")
		}
		report("API server restart: start to a new Ingress reaching xDS", time.Since(restartedAt).Round(10*time.Millisecond).String())
		Eventually(func(g Gomega) {
			ing := &networkingv1.Ingress{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(after), ing)).To(Succeed())
			g.Expect(loadBalancerIPs(ing)).To(Equal([]string{"192.0.2.10"}))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(ads.Err()).NotTo(HaveOccurred())
		Expect(during.Err()).NotTo(HaveOccurred())
		p.ExpectRunning()
	}, SpecTimeout(specTimeout))
})

// shortLease are leader election flags for a lease that moves within
// seconds.
var shortLease = []string{
	"--leader-election-lease-duration", "4s",
	"--leader-election-renew-deadline", "3s",
	"--leader-election-retry-period", "500ms",
}

// expectSameResources compares what two clients hold, resource by resource.
func expectSameResources(got, want adsState) {
	GinkgoHelper()
	Expect(got.Versions).To(Equal(want.Versions))
	expectSameMap(got.Listeners, want.Listeners)
	expectSameMap(got.Clusters, want.Clusters)
	expectSameMap(got.Routes, want.Routes)
	expectSameMap(got.Endpoints, want.Endpoints)
	expectSameMap(got.Secrets, want.Secrets)
}

func expectSameMap[M proto.Message](got, want map[string]M) {
	GinkgoHelper()
	Expect(got).To(HaveLen(len(want)))
	for name, w := range want {
		g, ok := got[name]
		Expect(ok).To(BeTrue(), "missing %s", name)
		Expect(proto.Equal(g, w)).To(BeTrue(), "%s differs:\n got %v\nwant %v", name, g, w)
	}
}
