package kube

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func init() {
	// The suite's client uses client-go's scheme; teach it Gateway API.
	utilruntimeMust(gatewayv1.Install(scheme.Scheme))
}

func utilruntimeMust(err error) {
	if err != nil {
		panic(err)
	}
}

func conditionTrue(conds []metav1.Condition, typ string) bool {
	return meta.IsStatusConditionTrue(conds, typ)
}

var _ = Describe("A Gateway API HTTPRoute", func() {
	It("reaches an ADS client through its Gateway's own listener, and GatewayClass, Gateway and HTTPRoute status are written", func(ctx SpecContext) {
		ns := newNamespace(ctx, "gateway")
		className := "legate-" + ns
		const port = 19080
		class := &gatewayv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{Name: className},
			Spec:       gatewayv1.GatewayClassSpec{ControllerName: "legate.dev/gateway-controller"},
		}
		Expect(k8s.Create(ctx, class)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = k8s.Delete(ctx, class) })
		gw := &gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"},
			Spec: gatewayv1.GatewaySpec{
				GatewayClassName: gatewayv1.ObjectName(className),
				Listeners:        []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: port}},
			},
		}
		route := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge"}}},
				Hostnames:       []gatewayv1.Hostname{"gw.example"},
				Rules: []gatewayv1.HTTPRouteRule{{
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
						BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web", Port: ptrTo(gatewayv1.PortNumber(servicePort))},
					}}},
				}},
			},
		}
		for _, obj := range []client.Object{newService(ns, "web"), newEndpointSlice(ns, "web", 8080, "192.0.2.7"), gw, route} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}

		p := startLegate(legateOptions{name: "gateway", namespace: ns})
		p.WaitReady()
		listener := fmt.Sprintf("gateway-%s-edge-%d", ns, port)
		ads := p.ADS(listener)

		By("the ADS client receiving the route on the Gateway's own listener")
		Eventually(func(g Gomega) {
			s := ads.State()
			vh := s.VirtualHost(listener, "gw.example")
			g.Expect(vh).NotTo(BeNil(), "virtual host gw.example in %s", listener)
			g.Expect(vh.Routes).NotTo(BeEmpty())
			g.Expect(vh.Routes[0].GetRoute().GetCluster()).To(Equal(clusterName(ns, "web")))
			g.Expect(s.EndpointAddresses(clusterName(ns, "web"))).To(Equal([]string{"192.0.2.7:8080"}))
			// Not reachable through the shared Ingress listener.
			g.Expect(s.VirtualHost("http-8080", "gw.example")).To(BeNil())
		}).WithTimeout(xdsWait).Should(Succeed())

		By("the status of the GatewayClass, the Gateway and the HTTPRoute")
		Eventually(func(g Gomega) {
			gc := &gatewayv1.GatewayClass{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(class), gc)).To(Succeed())
			g.Expect(conditionTrue(gc.Status.Conditions, "Accepted")).To(BeTrue(), "GatewayClass %+v", gc.Status)

			got := &gatewayv1.Gateway{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), got)).To(Succeed())
			g.Expect(conditionTrue(got.Status.Conditions, "Accepted")).To(BeTrue(), "Gateway %+v", got.Status)
			g.Expect(conditionTrue(got.Status.Conditions, "Programmed")).To(BeTrue(), "Gateway %+v", got.Status)
			g.Expect(got.Status.Listeners).To(HaveLen(1))
			g.Expect(got.Status.Listeners[0].AttachedRoutes).To(Equal(int32(1)))
			g.Expect(conditionTrue(got.Status.Listeners[0].Conditions, "Programmed")).To(BeTrue())
			for _, c := range got.Status.Conditions {
				g.Expect(c.LastTransitionTime.IsZero()).To(BeFalse(), "condition %s without a transition time", c.Type)
				g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
			}

			r := &gatewayv1.HTTPRoute{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(route), r)).To(Succeed())
			g.Expect(r.Status.Parents).To(HaveLen(1))
			g.Expect(string(r.Status.Parents[0].ControllerName)).To(Equal("legate.dev/gateway-controller"))
			g.Expect(conditionTrue(r.Status.Parents[0].Conditions, "Accepted")).To(BeTrue(), "HTTPRoute %+v", r.Status)
			g.Expect(conditionTrue(r.Status.Parents[0].Conditions, "ResolvedRefs")).To(BeTrue(), "HTTPRoute %+v", r.Status)
			g.Expect(statusManagers(r)).To(ConsistOf(p.Identity))
		}).WithTimeout(xdsWait).Should(Succeed())

		By("a backend that does not exist turning ResolvedRefs false")
		Eventually(func() error {
			r := &gatewayv1.HTTPRoute{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(route), r); err != nil {
				return err
			}
			r.Spec.Rules[0].BackendRefs[0].Name = "missing"
			return k8s.Update(ctx, r)
		}).WithTimeout(xdsWait).Should(Succeed())
		Eventually(func(g Gomega) {
			r := &gatewayv1.HTTPRoute{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(route), r)).To(Succeed())
			g.Expect(r.Status.Parents).To(HaveLen(1))
			c := meta.FindStatusCondition(r.Status.Parents[0].Conditions, "ResolvedRefs")
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("BackendNotFound"))
			g.Expect(c.ObservedGeneration).To(Equal(r.Generation))
		}).WithTimeout(xdsWait).Should(Succeed())
	}, SpecTimeout(specTimeout))
})
