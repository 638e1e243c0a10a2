package kube

import (
	"fmt"
	"slices"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("Start-up with many Ingresses", func() {
	It("sends an ADS client that connected before the first snapshot all 500 Ingresses at once, never an empty or partial configuration; RSS with 1,000", func(ctx SpecContext) {
		const n = 500
		ns := newNamespace(ctx, "startup")
		By(fmt.Sprintf("creating %d Ingresses and their Services before legate starts", n))
		createAll(ctx, ingressBatch(ns, "pre", 0, n))

		p := startLegate(legateOptions{name: "startup", namespace: ns})
		ads := p.ADS("http-8080")
		// The client must be there before the first snapshot, or it could
		// not see an empty or partial one.
		ready, err := p.Ready()
		Expect(err).NotTo(HaveOccurred())
		Expect(ready).To(BeFalse(), "legate had published before the ADS client subscribed; this test needs the client to come first")

		_, err = ads.WaitFor(60*time.Second, func(s adsState) bool { return len(s.Routes["http-8080"].GetVirtualHosts()) > 0 })
		Expect(err).NotTo(HaveOccurred(), "no route configuration http-8080 arrived")
		// Let the EDS answer to the first CDS arrive too.
		_, err = ads.WaitFor(30*time.Second, func(s adsState) bool { return len(s.Endpoints) == n })
		Expect(err).NotTo(HaveOccurred(), "EDS for %d clusters did not arrive", n)

		By("checking the first response of every type")
		wantHosts := make([]string, 0, n)
		for i := range n {
			wantHosts = append(wantHosts, fmt.Sprintf("pre-%d.example", i))
		}
		slices.Sort(wantHosts)
		firsts := map[string]adsResponse{}
		for _, r := range ads.History() {
			if _, seen := firsts[r.TypeURL]; !seen {
				firsts[r.TypeURL] = r
			}
			// Every route configuration ever received is complete, not only
			// the first: nothing partial followed either.
			if r.TypeURL == resource.RouteType {
				Expect(r.Resources).To(HaveLen(1), "RDS response (version %s) without the route configuration: an empty configuration", r.Version)
				hosts := vhostNames(r.Resources[0].(*routev3.RouteConfiguration))
				slices.Sort(hosts)
				Expect(hosts).To(Equal(wantHosts), "a RouteConfiguration (version %s) without all %d Ingresses", r.Version, n)
			}
		}
		Expect(firsts).To(HaveKey(resource.ListenerType))
		Expect(firsts[resource.ListenerType].Resources).To(HaveLen(1), "the first LDS response: the HTTP listener")
		Expect(firsts).To(HaveKey(resource.ClusterType))
		Expect(firsts[resource.ClusterType].Resources).To(HaveLen(n), "the first CDS response")
		Expect(firsts).To(HaveKey(resource.EndpointType))
		Expect(firsts[resource.EndpointType].Resources).To(HaveLen(n), "the first EDS response")
		Expect(firsts).To(HaveKey(resource.RouteType))

		By(fmt.Sprintf("adding %d more Ingresses and measuring legate's memory", n))
		createAll(ctx, ingressBatch(ns, "pre", n, 2*n))
		_, err = ads.WaitFor(60*time.Second, func(s adsState) bool { return len(s.Routes["http-8080"].GetVirtualHosts()) == 2*n })
		Expect(err).NotTo(HaveOccurred(), "the route configuration never held %d virtual hosts", 2*n)
		statusStart := time.Now()
		Eventually(func(g Gomega) {
			list := &networkingv1.IngressList{}
			g.Expect(k8s.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			without := 0
			for i := range list.Items {
				if len(list.Items[i].Status.LoadBalancer.Ingress) == 0 {
					without++
				}
			}
			g.Expect(without).To(BeZero(), "Ingresses without status")
		}).WithTimeout(90 * time.Second).WithPolling(time.Second).Should(Succeed())
		report("status.loadBalancer of all 1,000 Ingresses written after", time.Since(statusStart).Round(100*time.Millisecond).String())
		// Let the last burst settle before measuring.
		time.Sleep(2 * time.Second)
		rss, peak := p.RSS()
		p.ExpectRunning()
		report("legate RSS with 1,000 Ingresses (and 1,000 Services)", fmt.Sprintf("%.1f MiB (peak %.1f MiB)", float64(rss)/1024, float64(peak)/1024))
	}, SpecTimeout(specTimeout))
})

var _ = Describe("Change latency", func() {
	It("measures the time from an Ingress create to the xDS push reaching an ADS client, over 200 changes", func(ctx SpecContext) {
		const n = 200
		ns := newNamespace(ctx, "latency")
		Expect(k8s.Create(ctx, newService(ns, "lat"))).To(Succeed())
		Expect(k8s.Create(ctx, newEndpointSlice(ns, "lat", 8080, "192.0.2.3"))).To(Succeed())
		p := startLegate(legateOptions{name: "latency", namespace: ns})
		p.WaitReady()
		ads := p.ADS("http-8080")
		// The first (empty) configuration arrives: the client is subscribed.
		_, err := ads.WaitFor(xdsWait, func(s adsState) bool { _, ok := s.Versions[resource.ListenerType]; return ok })
		Expect(err).NotTo(HaveOccurred())

		lat := make([]time.Duration, 0, n)
		for i := range n {
			name := fmt.Sprintf("lat-%d", i)
			host := name + ".example"
			ing := newIngress(ns, name, host, "/", "lat")
			start := time.Now()
			Expect(k8s.Create(ctx, ing)).To(Succeed())
			at, err := ads.WaitFor(xdsWait, func(s adsState) bool { return s.VirtualHost("http-8080", host) != nil })
			Expect(err).NotTo(HaveOccurred(), "Ingress %s never reached the ADS client", name)
			lat = append(lat, at.Sub(start))
		}
		slices.Sort(lat)
		median, p99 := percentile(lat, 50), percentile(lat, 99)
		report("create-to-push latency over 200 Ingress creates", fmt.Sprintf("median %s, p99 %s (min %s, max %s)",
			median.Round(time.Millisecond), p99.Round(time.Millisecond), lat[0].Round(time.Millisecond), lat[n-1].Round(time.Millisecond)))
		// A sanity bound, not a benchmark: the debounce is 50ms and its
		// ceiling 500ms.
		Expect(median).To(BeNumerically("<", 2*time.Second))
		p.ExpectRunning()
	}, SpecTimeout(specTimeout))
})

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// report prints a measurement in the test output and the spec report.
func report(name, value string) {
	By(fmt.Sprintf("MEASURED %s: %s", name, value))
	AddReportEntry(name, value, Offset(1))
	fmt.Printf("\nMEASURED %s: %s\n", name, value)
}
