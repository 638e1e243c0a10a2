package kube

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("Two replicas", func() {
	It("serve identical snapshots; only the leader writes status; when the leader is killed the other takes over within the lease time", func(ctx SpecContext) {
		ns := newNamespace(ctx, "replicas")
		for _, obj := range []client.Object{
			newService(ns, "app"),
			newEndpointSlice(ns, "app", 8080, "192.0.2.5", "192.0.2.6"),
			newIngress(ns, "first", "first.example", "/", "app"),
		} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}
		replicas := map[string]*legateProc{}
		clients := map[string]*adsClient{}
		for _, name := range []string{"replica-a", "replica-b"} {
			p := startLegate(legateOptions{name: name, namespace: ns, args: shortLease})
			replicas[p.Identity] = p
		}
		for id, p := range replicas {
			p.WaitReady()
			clients[id] = p.ADS("http-8080")
		}

		By("both serving identical resources")
		cluster := clusterName(ns, "app")
		for _, c := range clients {
			_, err := c.WaitFor(xdsWait, func(s adsState) bool {
				return s.VirtualHost("http-8080", "first.example") != nil && len(s.EndpointAddresses(cluster)) == 2
			})
			Expect(err).NotTo(HaveOccurred())
		}
		var states []adsState
		for _, c := range clients {
			states = append(states, c.State())
		}
		Expect(states[0].Routes).To(HaveKey("http-8080"))
		Expect(states[0].Endpoints).To(HaveKey(cluster))
		expectSameResources(states[1], states[0])

		By("only the Lease holder writing status")
		lease := &coordinationv1.Lease{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "legate-status"}, lease)).To(Succeed())
			g.Expect(replicas).To(HaveKey(ptrValue(lease.Spec.HolderIdentity)))
		}).WithTimeout(xdsWait).Should(Succeed())
		leader := replicas[*lease.Spec.HolderIdentity]
		var follower *legateProc
		for id, p := range replicas {
			if id != leader.Identity {
				follower = p
			}
		}
		Eventually(func(g Gomega) {
			ing := &networkingv1.Ingress{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "first"}, ing)).To(Succeed())
			g.Expect(loadBalancerIPs(ing)).To(Equal([]string{"192.0.2.10"}))
			g.Expect(statusManagers(ing)).To(ConsistOf(leader.Identity))
		}).WithTimeout(xdsWait).Should(Succeed())

		By("killing the leader (SIGKILL: the Lease is not released)")
		leader.Kill()
		killed := time.Now()
		second := newIngress(ns, "second", "second.example", "/", "app")
		Expect(k8s.Create(ctx, second)).To(Succeed())

		// The follower has translated the new Ingress (it serves it) but
		// holds no lease, so it must not write its status: the Lease stays
		// the dead leader's for at least 3.5s (4s after its last renewal,
		// renewed every 500ms).
		_, err := clients[follower.Identity].WaitFor(xdsWait, func(s adsState) bool {
			return s.VirtualHost("http-8080", "second.example") != nil
		})
		Expect(err).NotTo(HaveOccurred())
		Consistently(func(g Gomega) {
			ing := &networkingv1.Ingress{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(second), ing)).To(Succeed())
			g.Expect(ing.Status.LoadBalancer.Ingress).To(BeEmpty(), "status written while no live replica held the Lease")
		}).WithTimeout(time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		Expect(time.Since(killed)).To(BeNumerically("<", 3*time.Second), "too slow to tell a follower's write from a takeover")
		Expect(follower.Logs()).NotTo(ContainSubstring("leading: writing status"))

		// The Lease runs out 4s after the leader's last renewal, and the
		// follower tries every 500ms; allow for a loaded machine on top.
		const leaseDuration, slack = 4 * time.Second, 4 * time.Second
		var statusAt time.Time
		Eventually(func(g Gomega) {
			ing := &networkingv1.Ingress{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(second), ing)).To(Succeed())
			g.Expect(loadBalancerIPs(ing)).To(Equal([]string{"192.0.2.10"}))
			statusAt = time.Now()
			g.Expect(statusManagers(ing)).To(ConsistOf(follower.Identity))
		}).WithTimeout(leaseDuration + slack).WithPolling(50 * time.Millisecond).Should(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "legate-status"}, lease)).To(Succeed())
		Expect(ptrValue(lease.Spec.HolderIdentity)).To(Equal(follower.Identity))
		report("leader takeover: SIGKILL of the leader to the new Ingress's status written by the other replica",
			fmt.Sprintf("%s (lease duration 4s, retry period 500ms)", statusAt.Sub(killed).Round(10*time.Millisecond)))

		Expect(follower.Logs()).To(ContainSubstring("leading: writing status"))
		follower.ExpectRunning()
	}, SpecTimeout(specTimeout))
})

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
