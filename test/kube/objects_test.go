package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// servicePort is the port every test Service exposes; clusters are named
// "<namespace>/<service>/80".
const servicePort = 80

func clusterName(ns, svc string) string { return fmt.Sprintf("%s/%s/%d", ns, svc, servicePort) }

// routeName is the name legate gives the route of an Ingress's first rule
// and path.
func routeName(ns, ing string) string { return fmt.Sprintf("ingress/%s/%s/rules[0]/paths[0]", ns, ing) }

// newService is a selector-less Service: its endpoints are whatever
// EndpointSlices the test creates, as no controller manages them.
func newService(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "http", Port: servicePort, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080),
		}}},
	}
}

// newEndpointSlice gives Service svc ready endpoints at addrs:port.
func newEndpointSlice(ns, svc string, port int32, addrs ...string) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: svc + "-slice",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{
			Name: ptrTo("http"), Port: ptrTo(port), Protocol: ptrTo(corev1.ProtocolTCP),
		}},
	}
	for _, a := range addrs {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{a},
			Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true)},
		})
	}
	return es
}

// newIngress routes host+path (a Prefix path) to svc's port 80.
func newIngress(ns, name, host, path, svc string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptrTo(ingressClassName),
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     path,
						PathType: ptrTo(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: svc, Port: networkingv1.ServiceBackendPort{Number: servicePort},
						}},
					}},
				}},
			}},
		},
	}
}

// newTLSSecret is a kubernetes.io/tls Secret holding a fresh self-signed
// certificate for host.
func newTLSSecret(ns, name, host string) *corev1.Secret {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		},
	}
}

// createAll creates objs with a few parallel workers (the scale tests
// create a thousand objects or more).
func createAll(ctx context.Context, objs []client.Object) {
	GinkgoHelper()
	const workers = 8
	work := make(chan client.Object)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for obj := range work {
				if err := k8s.Create(ctx, obj); err != nil {
					errs <- fmt.Errorf("creating %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
				}
			}
		})
	}
	for _, obj := range objs {
		work <- obj
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
}

// ingressBatch makes n Ingresses, each with its own Service, named
// <prefix>-<i> and routing host <prefix>-<i>.example.
func ingressBatch(ns, prefix string, from, to int) []client.Object {
	var objs []client.Object
	for i := from; i < to; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		objs = append(objs, newService(ns, name), newIngress(ns, name, name+".example", "/", name))
	}
	return objs
}

// loadBalancerIPs is an Ingress's status.loadBalancer as a list of IPs.
func loadBalancerIPs(ing *networkingv1.Ingress) []string {
	var out []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		out = append(out, lb.IP)
	}
	return out
}

// statusManagers lists the field managers that wrote obj's status
// subresource.
func statusManagers(obj client.Object) []string {
	var out []string
	for _, mf := range obj.GetManagedFields() {
		if mf.Subresource == "status" {
			out = append(out, mf.Manager)
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

func listOptions(sel fields.Selector) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: sel.String()}
}
