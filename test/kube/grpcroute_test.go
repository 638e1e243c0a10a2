package kube

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const otherController = "example.com/other-controller"

// otherEntry is the status entry another controller wrote for its own
// Gateway; Legate must never change or remove it.
func otherEntry() gatewayv1.RouteParentStatus {
	return gatewayv1.RouteParentStatus{
		// Group and Kind as the API server defaults them.
		ParentRef:      gatewayv1.ParentReference{Group: ptrTo(gatewayv1.Group(gatewayv1.GroupName)), Kind: ptrTo(gatewayv1.Kind("Gateway")), Name: "theirs"},
		ControllerName: otherController,
		Conditions: []metav1.Condition{{
			Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "accepted by the other controller",
			ObservedGeneration: 1, // The API server keeps seconds; a decoded time is local.
			LastTransitionTime: metav1.Date(2024, 1, 2, 3, 4, 5, 0, time.Local),
		}},
	}
}

var _ = Describe("Gateway API route status", func() {
	It("writes GRPCRoute status, and removes Legate's entries of HTTPRoutes and GRPCRoutes that no longer name its Gateways, keeping other controllers'", func(ctx SpecContext) {
		ns := newNamespace(ctx, "grpcroute")
		className := "legate-" + ns
		const port = 19180
		class := &gatewayv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{Name: className},
			Spec:       gatewayv1.GatewayClassSpec{ControllerName: "legate.dev/gateway-controller"},
		}
		theirClass := &gatewayv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{Name: "other-" + ns},
			Spec:       gatewayv1.GatewayClassSpec{ControllerName: otherController},
		}
		for _, c := range []*gatewayv1.GatewayClass{class, theirClass} {
			Expect(k8s.Create(ctx, c)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { _ = k8s.Delete(ctx, c) })
		}
		ours := &gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"},
			Spec: gatewayv1.GatewaySpec{
				GatewayClassName: gatewayv1.ObjectName(className),
				Listeners:        []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: port}},
			},
		}
		theirs := &gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs"},
			Spec: gatewayv1.GatewaySpec{
				GatewayClassName: gatewayv1.ObjectName(theirClass.Name),
				Listeners:        []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: port + 1}},
			},
		}
		parents := []gatewayv1.ParentReference{{Name: "edge"}, {Name: "theirs"}}
		backend := gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web", Port: ptrTo(gatewayv1.PortNumber(servicePort))}}
		grpcRoute := &gatewayv1.GRPCRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rpc"},
			Spec: gatewayv1.GRPCRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parents},
				Hostnames:       []gatewayv1.Hostname{"rpc.example"},
				Rules: []gatewayv1.GRPCRouteRule{{
					Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{
						Service: ptrTo("echo.Echo"), Method: ptrTo("Say"),
					}}},
					BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: backend}},
				}},
			},
		}
		httpRoute := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parents},
				Hostnames:       []gatewayv1.Hostname{"web.example"},
				Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: backend}}}},
			},
		}
		for _, obj := range []client.Object{newService(ns, "web"), newEndpointSlice(ns, "web", 8080, "192.0.2.9"), ours, theirs, grpcRoute, httpRoute} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}
		// The other controller has written its entry before Legate starts.
		grpcRoute.Status.Parents = []gatewayv1.RouteParentStatus{otherEntry()}
		Expect(k8s.Status().Update(ctx, grpcRoute)).To(Succeed())
		httpRoute.Status.Parents = []gatewayv1.RouteParentStatus{otherEntry()}
		Expect(k8s.Status().Update(ctx, httpRoute)).To(Succeed())

		p := startLegate(legateOptions{name: "grpcroute", namespace: ns})
		p.WaitReady()
		listener := fmt.Sprintf("gateway-%s-edge-%d", ns, port)
		ads := p.ADS(listener)

		By("the ADS client receiving the gRPC route, forwarded over h2c")
		Eventually(func(g Gomega) {
			s := ads.State()
			vh := s.VirtualHost(listener, "rpc.example")
			g.Expect(vh).NotTo(BeNil(), "virtual host rpc.example in %s", listener)
			g.Expect(vh.Routes).To(HaveLen(1))
			g.Expect(vh.Routes[0].GetMatch().GetPath()).To(Equal("/echo.Echo/Say"))
			g.Expect(vh.Routes[0].GetRoute().GetCluster()).To(Equal(clusterName(ns, "web") + "/h2c"))
		}).WithTimeout(xdsWait).Should(Succeed())

		statusOf := func(g Gomega, obj client.Object) []gatewayv1.RouteParentStatus {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			switch r := obj.(type) {
			case *gatewayv1.GRPCRoute:
				return r.Status.Parents
			case *gatewayv1.HTTPRoute:
				return r.Status.Parents
			}
			return nil
		}

		By("Legate's entries written next to the other controller's, and the class listing GRPCRoute among its features")
		Eventually(func(g Gomega) {
			for _, obj := range []client.Object{&gatewayv1.GRPCRoute{ObjectMeta: grpcRoute.ObjectMeta}, &gatewayv1.HTTPRoute{ObjectMeta: httpRoute.ObjectMeta}} {
				ps := statusOf(g, obj)
				g.Expect(ps).To(HaveLen(2), "%T %+v", obj, ps)
				g.Expect(ps[0]).To(Equal(otherEntry()))
				g.Expect(string(ps[1].ControllerName)).To(Equal("legate.dev/gateway-controller"))
				g.Expect(string(ps[1].ParentRef.Name)).To(Equal("edge"))
				g.Expect(conditionTrue(ps[1].Conditions, "Accepted")).To(BeTrue(), "%T %+v", obj, ps)
				g.Expect(conditionTrue(ps[1].Conditions, "ResolvedRefs")).To(BeTrue(), "%T %+v", obj, ps)
			}
			gw := &gatewayv1.Gateway{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ours), gw)).To(Succeed())
			g.Expect(gw.Status.Listeners).To(HaveLen(1))
			g.Expect(gw.Status.Listeners[0].AttachedRoutes).To(Equal(int32(2)))
			var kinds []string
			for _, k := range gw.Status.Listeners[0].SupportedKinds {
				kinds = append(kinds, string(k.Kind))
			}
			g.Expect(kinds).To(ConsistOf("HTTPRoute", "GRPCRoute"))
			gc := &gatewayv1.GatewayClass{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(class), gc)).To(Succeed())
			g.Expect(gc.Status.SupportedFeatures).To(ContainElement(gatewayv1.SupportedFeature{Name: "GRPCRoute"}))
		}).WithTimeout(xdsWait).Should(Succeed())

		By("both routes dropping Legate's Gateway from their parentRefs")
		for _, obj := range []client.Object{&gatewayv1.GRPCRoute{ObjectMeta: grpcRoute.ObjectMeta}, &gatewayv1.HTTPRoute{ObjectMeta: httpRoute.ObjectMeta}} {
			Eventually(func() error {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
					return err
				}
				only := []gatewayv1.ParentReference{{Name: "theirs"}}
				switch r := obj.(type) {
				case *gatewayv1.GRPCRoute:
					r.Spec.ParentRefs = only
				case *gatewayv1.HTTPRoute:
					r.Spec.ParentRefs = only
				}
				return k8s.Update(ctx, obj)
			}).WithTimeout(xdsWait).Should(Succeed())
		}

		By("Legate removing its entries and leaving the other controller's as they were")
		Eventually(func(g Gomega) {
			for _, obj := range []client.Object{&gatewayv1.GRPCRoute{ObjectMeta: grpcRoute.ObjectMeta}, &gatewayv1.HTTPRoute{ObjectMeta: httpRoute.ObjectMeta}} {
				ps := statusOf(g, obj)
				g.Expect(ps).To(Equal([]gatewayv1.RouteParentStatus{otherEntry()}), "%T", obj)
			}
			gw := &gatewayv1.Gateway{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ours), gw)).To(Succeed())
			g.Expect(gw.Status.Listeners[0].AttachedRoutes).To(BeZero())
		}).WithTimeout(xdsWait).Should(Succeed())
		Consistently(func(g Gomega) {
			ps := statusOf(g, &gatewayv1.GRPCRoute{ObjectMeta: grpcRoute.ObjectMeta})
			g.Expect(ps).To(Equal([]gatewayv1.RouteParentStatus{otherEntry()}))
			g.Expect(meta.FindStatusCondition(ps[0].Conditions, "Accepted")).NotTo(BeNil())
		}).WithTimeout(2 * xdsWait / 10).Should(Succeed())
	}, SpecTimeout(specTimeout))
})
