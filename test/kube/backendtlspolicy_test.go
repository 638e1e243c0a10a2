package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// testCAPEM is a PEM CA certificate made for one spec.
func testCAPEM() []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "legate kube test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

var _ = Describe("BackendTLSPolicy", func() {
	It("gets Legate's ancestor entries written next to another controller's, and removed when no route uses it", func(ctx SpecContext) {
		ns := newNamespace(ctx, "backendtls")
		className := "legate-" + ns
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
				Listeners:        []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: 19680}},
			},
		}
		backend := func(name string) []gatewayv1.HTTPBackendRef {
			return []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
				Name: gatewayv1.ObjectName(name), Port: ptrTo(gatewayv1.PortNumber(servicePort))}}}}
		}
		route := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge"}}},
				Rules: []gatewayv1.HTTPRouteRule{
					{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Value: ptrTo("/good")}}}, BackendRefs: backend("good")},
					{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Value: ptrTo("/bad")}}}, BackendRefs: backend("bad")},
				},
			},
		}
		caPEM := testCAPEM()
		ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Data: map[string]string{"ca.crt": string(caPEM)}}
		policy := func(name, configMap string) *gatewayv1.BackendTLSPolicy {
			return &gatewayv1.BackendTLSPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: gatewayv1.BackendTLSPolicySpec{
					TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
						Kind: "Service", Name: gatewayv1.ObjectName(name)}}},
					Validation: gatewayv1.BackendTLSPolicyValidation{
						CACertificateRefs: []gatewayv1.LocalObjectReference{{Kind: "ConfigMap", Name: gatewayv1.ObjectName(configMap)}},
						Hostname:          "backend.example.com",
					},
				},
			}
		}
		good, bad := policy("good", "ca"), policy("bad", "missing")
		for _, obj := range []client.Object{newService(ns, "good"), newService(ns, "bad"), ca, gw, route, good, bad} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}
		// Another controller's entry, which Legate must keep.
		otherGroup, otherKind := gatewayv1.Group(gatewayv1.GroupName), gatewayv1.Kind("Gateway")
		other := gatewayv1.PolicyAncestorStatus{
			AncestorRef:    gatewayv1.ParentReference{Group: &otherGroup, Kind: &otherKind, Name: "elsewhere"},
			ControllerName: "example.com/other-controller",
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted",
				LastTransitionTime: metav1.Now(), ObservedGeneration: good.Generation}},
		}
		good.Status.Ancestors = []gatewayv1.PolicyAncestorStatus{other}
		Expect(k8s.Status().Update(ctx, good)).To(Succeed())

		p := startLegate(legateOptions{name: "backendtls", namespace: ns})
		p.WaitReady()

		ours := func(g Gomega, pol *gatewayv1.BackendTLSPolicy) *gatewayv1.PolicyAncestorStatus {
			for i, a := range pol.Status.Ancestors {
				if a.ControllerName == "legate.dev/gateway-controller" {
					return &pol.Status.Ancestors[i]
				}
			}
			return nil
		}
		cond := func(g Gomega, a *gatewayv1.PolicyAncestorStatus, typ string) *metav1.Condition {
			c := meta.FindStatusCondition(a.Conditions, typ)
			g.Expect(c).NotTo(BeNil(), "no %s condition in %+v", typ, a.Conditions)
			g.Expect(c.LastTransitionTime.IsZero()).To(BeFalse())
			return c
		}
		Eventually(func(g Gomega) {
			got := &gatewayv1.BackendTLSPolicy{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(good), got)).To(Succeed())
			g.Expect(got.Status.Ancestors).To(HaveLen(2), "%+v", got.Status.Ancestors)
			g.Expect(got.Status.Ancestors[0].ControllerName).To(Equal(other.ControllerName), "the other controller's entry is kept first")
			a := ours(g, got)
			g.Expect(a).NotTo(BeNil())
			g.Expect(string(a.AncestorRef.Name)).To(Equal("edge"))
			g.Expect(string(*a.AncestorRef.Namespace)).To(Equal(ns))
			g.Expect(cond(g, a, "Accepted").Status).To(Equal(metav1.ConditionTrue))
			g.Expect(cond(g, a, "ResolvedRefs").Reason).To(Equal("ResolvedRefs"))

			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(bad), got)).To(Succeed())
			a = ours(g, got)
			g.Expect(a).NotTo(BeNil(), "%+v", got.Status)
			acc := cond(g, a, "Accepted")
			g.Expect(acc.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(acc.Reason).To(Equal("NoValidCACertificate"))
			g.Expect(acc.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(cond(g, a, "ResolvedRefs").Reason).To(Equal("InvalidCACertificateRef"))
		}).WithTimeout(xdsWait).Should(Succeed())

		// Without the route no Gateway of Legate's uses the Services: its
		// entries go, the other controller's stay.
		Expect(k8s.Delete(ctx, route)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &gatewayv1.BackendTLSPolicy{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(good), got)).To(Succeed())
			g.Expect(got.Status.Ancestors).To(HaveLen(1), "%+v", got.Status.Ancestors)
			g.Expect(got.Status.Ancestors[0].ControllerName).To(Equal(other.ControllerName))
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(bad), got)).To(Succeed())
			g.Expect(ours(g, got)).To(BeNil(), "%+v", got.Status.Ancestors)
		}).WithTimeout(xdsWait).Should(Succeed())
	}, SpecTimeout(specTimeout))
})
