package kube

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var _ = Describe("Gateway API TLSRoute, TCPRoute and UDPRoute", func() {
	It("get their status.parents written, and the Gateway's TLS, TCP and UDP listeners their attachedRoutes", func(ctx SpecContext) {
		ns := newNamespace(ctx, "gateway-l4")
		className := "legate-" + ns
		class := &gatewayv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{Name: className},
			Spec:       gatewayv1.GatewayClassSpec{ControllerName: "legate.dev/gateway-controller"},
		}
		Expect(k8s.Create(ctx, class)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = k8s.Delete(ctx, class) })
		passthrough := gatewayv1.TLSModePassthrough
		gw := &gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"},
			Spec: gatewayv1.GatewaySpec{
				GatewayClassName: gatewayv1.ObjectName(className),
				Listeners: []gatewayv1.Listener{
					{Name: "tls", Protocol: gatewayv1.TLSProtocolType, Port: 19443, TLS: &gatewayv1.ListenerTLSConfig{Mode: &passthrough}},
					{Name: "tcp", Protocol: gatewayv1.TCPProtocolType, Port: 19500},
					{Name: "udp", Protocol: gatewayv1.UDPProtocolType, Port: 19500},
				},
			},
		}
		backend := func(name string) []gatewayv1.BackendRef {
			return []gatewayv1.BackendRef{{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptrTo(gatewayv1.PortNumber(servicePort))}}}
		}
		parent := func(section string) gatewayv1.CommonRouteSpec {
			return gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge", SectionName: ptrTo(gatewayv1.SectionName(section))}}}
		}
		tlsRoute := &gatewayv1.TLSRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure"},
			Spec: gatewayv1.TLSRouteSpec{CommonRouteSpec: parent("tls"), Hostnames: []gatewayv1.Hostname{"secure.example.com"},
				Rules: []gatewayv1.TLSRouteRule{{BackendRefs: backend("web")}}},
		}
		tcpRoute := &gatewayv1.TCPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
			Spec:       gatewayv1.TCPRouteSpec{CommonRouteSpec: parent("tcp"), Rules: []gatewayv1.TCPRouteRule{{BackendRefs: backend("missing")}}},
		}
		udpRoute := &gatewayv1.UDPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns"},
			// Attaching to the TLS listener is not allowed.
			Spec: gatewayv1.UDPRouteSpec{CommonRouteSpec: parent("tls"), Rules: []gatewayv1.UDPRouteRule{{BackendRefs: backend("web")}}},
		}
		for _, obj := range []client.Object{newService(ns, "web"), newEndpointSlice(ns, "web", 8080, "192.0.2.7"), gw, tlsRoute, tcpRoute, udpRoute} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}

		p := startLegate(legateOptions{name: "gateway-l4", namespace: ns})
		p.WaitReady()

		parentCond := func(g Gomega, parents []gatewayv1.RouteParentStatus, typ string) *metav1.Condition {
			g.Expect(parents).To(HaveLen(1))
			g.Expect(string(parents[0].ControllerName)).To(Equal("legate.dev/gateway-controller"))
			c := meta.FindStatusCondition(parents[0].Conditions, typ)
			g.Expect(c).NotTo(BeNil(), "no %s condition in %+v", typ, parents[0].Conditions)
			g.Expect(c.LastTransitionTime.IsZero()).To(BeFalse())
			return c
		}
		Eventually(func(g Gomega) {
			got := &gatewayv1.Gateway{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gw), got)).To(Succeed())
			g.Expect(conditionTrue(got.Status.Conditions, "Programmed")).To(BeTrue(), "Gateway %+v", got.Status)
			attached := map[gatewayv1.SectionName]int32{}
			for _, l := range got.Status.Listeners {
				g.Expect(conditionTrue(l.Conditions, "Programmed")).To(BeTrue(), "listener %s: %+v", l.Name, l.Conditions)
				attached[l.Name] = l.AttachedRoutes
			}
			g.Expect(attached).To(Equal(map[gatewayv1.SectionName]int32{"tls": 1, "tcp": 1, "udp": 0}))

			tr := &gatewayv1.TLSRoute{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tlsRoute), tr)).To(Succeed())
			g.Expect(parentCond(g, tr.Status.Parents, "Accepted").Status).To(Equal(metav1.ConditionTrue))
			g.Expect(parentCond(g, tr.Status.Parents, "ResolvedRefs").Status).To(Equal(metav1.ConditionTrue))

			cr := &gatewayv1.TCPRoute{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tcpRoute), cr)).To(Succeed())
			g.Expect(parentCond(g, cr.Status.Parents, "Accepted").Status).To(Equal(metav1.ConditionTrue))
			g.Expect(parentCond(g, cr.Status.Parents, "ResolvedRefs").Reason).To(Equal("BackendNotFound"))

			ur := &gatewayv1.UDPRoute{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(udpRoute), ur)).To(Succeed())
			acc := parentCond(g, ur.Status.Parents, "Accepted")
			g.Expect(acc.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(acc.Reason).To(Equal("NotAllowedByListeners"))
			g.Expect(acc.ObservedGeneration).To(Equal(ur.Generation))
		}).WithTimeout(xdsWait).Should(Succeed())
	}, SpecTimeout(specTimeout))
})
