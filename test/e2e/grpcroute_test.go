package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
)

// grpcEcho is the conformance suite's gRPC echo service (the very protocol
// its echo-basic backend speaks), answering with the name of its backend,
// the method called, and the request's metadata.
type grpcEcho struct {
	pb.UnimplementedGrpcEchoServer
	name string
}

func (e *grpcEcho) answer(ctx context.Context, method string) (*pb.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var headers []*pb.Header
	authority := ""
	for k, vs := range md {
		for _, v := range vs {
			headers = append(headers, &pb.Header{Key: k, Value: v})
			if k == ":authority" {
				authority = v
			}
		}
	}
	return &pb.EchoResponse{Assertions: &pb.Assertions{
		FullyQualifiedMethod: "/" + pb.GrpcEcho_ServiceDesc.ServiceName + "/" + method,
		Headers:              headers,
		Authority:            authority,
		Context:              &pb.Context{Pod: e.name},
	}}, nil
}

func (e *grpcEcho) Echo(ctx context.Context, _ *pb.EchoRequest) (*pb.EchoResponse, error) {
	return e.answer(ctx, "Echo")
}

func (e *grpcEcho) EchoTwo(ctx context.Context, _ *pb.EchoRequest) (*pb.EchoResponse, error) {
	return e.answer(ctx, "EchoTwo")
}

// startGRPCBackend serves grpcEcho on a loopback port over plain HTTP/2
// (h2c, the only way a grpc-go server speaks without TLS).
func startGRPCBackend(t *testing.T, name string) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterGrpcEchoServer(s, &grpcEcho{name: name})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().(*net.TCPAddr).Port
}

// TestEnvoyGRPCRoute sends real gRPC calls through Envoy to two gRPC
// backends behind a Gateway's listener. The GRPCRoute's method matches
// pick the backend (Echo to v1, EchoTwo to v2), a header match on the same
// service outranks the service alone, the request header filter reaches
// the backend, and a rule whose backend does not exist answers
// UNAVAILABLE; the same calls through the Gateway's HTTPS listener reach
// the same backends. The Services name no appProtocol: the clusters speak h2c
// because the route is a GRPCRoute, and the grpc-go backends accept
// nothing else.
func TestEnvoyGRPCRoute(t *testing.T) {
	v1, v2 := startGRPCBackend(t, "v1"), startGRPCBackend(t, "v2")
	dir := t.TempDir()
	l := startLegate(t, dir)
	gwPort, tlsPort := freePort(t), freePort(t)
	certPEM, keyPEM := selfSigned(t, "grpc.example.com")
	writeFile(t, filepath.Join(dir, "svc.yaml"), serviceYAML("grpc-v1", v1)+"---\n"+serviceYAML("grpc-v2", v2))
	writeFile(t, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf(gatewayClassYAML+`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: legate
  listeners:
    - {name: http, protocol: HTTP, port: %[1]d}
    - name: https
      protocol: HTTPS
      port: %[3]d
      hostname: grpc.example.com
      tls: {certificateRefs: [{name: grpc-tls}]}
---
apiVersion: v1
kind: Secret
metadata: {name: grpc-tls, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%[4]s
  tls.key: |
%[5]s
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: default}
spec:
  parentRefs: [{name: edge}]
  hostnames: [grpc.example.com]
  rules:
    - matches: [{method: {service: %[2]s, method: Echo}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-through, value: legate}]}
      backendRefs: [{name: grpc-v1, port: 80}]
    - matches: [{method: {service: %[2]s, method: EchoTwo}}]
      backendRefs: [{name: grpc-v2, port: 80}]
    - matches: [{method: {service: %[2]s}, headers: [{name: x-pick, value: two}]}]
      backendRefs: [{name: grpc-v2, port: 80}]
    - matches: [{method: {service: %[2]s}, headers: [{name: x-pick, value: broken}]}]
      backendRefs: [{name: missing, port: 80}]
`, gwPort, pb.GrpcEcho_ServiceDesc.ServiceName, tlsPort, indent(certPEM, "    "), indent(keyPEM, "    ")))

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", gwPort),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("grpc.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewGrpcEchoClient(conn)
	call := func(method string, md ...string) (*pb.EchoResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
		if method == "EchoTwo" {
			return client.EchoTwo(ctx, &pb.EchoRequest{})
		}
		return client.Echo(ctx, &pb.EchoRequest{})
	}

	start := time.Now()
	for {
		resp, err := call("Echo")
		if err == nil && resp.GetAssertions().GetContext().GetPod() == "v1" {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("Echo never reached v1 through Envoy within 30s; last: %v %v", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("route programmed after %v", time.Since(start))

	for _, tc := range []struct {
		method  string
		md      []string
		backend string
	}{
		{"Echo", nil, "v1"},
		{"EchoTwo", nil, "v2"},
		// Service and method (Echo) outrank service and header.
		{"Echo", []string{"x-pick", "two"}, "v1"},
		{"EchoTwo", []string{"x-pick", "two"}, "v2"},
	} {
		for range 20 {
			resp, err := call(tc.method, tc.md...)
			if err != nil {
				t.Fatalf("%s %v: %v", tc.method, tc.md, err)
			}
			a := resp.GetAssertions()
			if got := a.GetContext().GetPod(); got != tc.backend {
				t.Fatalf("%s %v reached %s, want %s", tc.method, tc.md, got, tc.backend)
			}
			if want := "/" + pb.GrpcEcho_ServiceDesc.ServiceName + "/" + tc.method; a.GetFullyQualifiedMethod() != want {
				t.Fatalf("backend saw method %s, want %s", a.GetFullyQualifiedMethod(), want)
			}
			if a.GetAuthority() != "grpc.example.com" {
				t.Fatalf("backend saw authority %q", a.GetAuthority())
			}
			through := ""
			for _, h := range a.GetHeaders() {
				if h.GetKey() == "x-through" {
					through = h.GetValue()
				}
			}
			if want := map[string]string{"Echo": "legate"}[tc.method]; through != want {
				t.Fatalf("%s: x-through %q reached the backend, want %q", tc.method, through, want)
			}
		}
	}

	// A call the rules do not take (a method of the service with no
	// header, which only the header rules would take) is not routed:
	// Envoy's 404 reaches a gRPC client as UNIMPLEMENTED.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = conn.Invoke(ctx, "/"+pb.GrpcEcho_ServiceDesc.ServiceName+"/EchoThree", &pb.EchoRequest{}, &pb.EchoResponse{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("EchoThree without a matching rule: got %v, want Unimplemented", err)
	}
	// The rule whose backend does not exist: UNAVAILABLE, as the spec asks.
	ctx = metadata.AppendToOutgoingContext(ctx, "x-pick", "broken")
	err = conn.Invoke(ctx, "/"+pb.GrpcEcho_ServiceDesc.ServiceName+"/EchoThree", &pb.EchoRequest{}, &pb.EchoResponse{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a call to a rule without a valid backend: got %v, want Unavailable", err)
	}

	// The same route through the Gateway's HTTPS listener: TLS ends at
	// Envoy (the client verifies the Gateway's certificate and needs h2 by
	// ALPN), the backend is still spoken to over h2c.
	tlsConn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", tlsPort),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: "grpc.example.com", RootCAs: certPool(t, certPEM)})))
	if err != nil {
		t.Fatal(err)
	}
	defer tlsConn.Close()
	tlsClient := pb.NewGrpcEchoClient(tlsConn)
	for _, tc := range []struct{ method, backend string }{{"Echo", "v1"}, {"EchoTwo", "v2"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var resp *pb.EchoResponse
		if tc.method == "Echo" {
			resp, err = tlsClient.Echo(ctx, &pb.EchoRequest{}, grpc.WaitForReady(true))
		} else {
			resp, err = tlsClient.EchoTwo(ctx, &pb.EchoRequest{}, grpc.WaitForReady(true))
		}
		cancel()
		if err != nil {
			t.Fatalf("%s over TLS: %v", tc.method, err)
		}
		if got := resp.GetAssertions().GetContext().GetPod(); got != tc.backend {
			t.Fatalf("%s over TLS reached %s, want %s", tc.method, got, tc.backend)
		}
	}

	if stats := l.admin(t, "/stats?filter=update_rejected"); !allZero(stats) {
		t.Fatalf("envoy rejected an update:\n%s", stats)
	}
}
