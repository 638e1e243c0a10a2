package localcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// The images of the Gateway API conformance suite (and of Legate's own
// acceptance suites), by repository.
const (
	EchoBasicImage = "registry.k8s.io/gateway-api/echo-basic"
	CoreDNSImage   = "registry.k8s.io/coredns/coredns"
)

// BuildPrograms builds the local stand-ins for the suites' images into
// dir: echo-basic from the conformance module, and a small DNS responder
// in place of CoreDNS. It needs the go command.
func BuildPrograms(ctx context.Context, dir string) (map[string]Program, error) {
	_, self, _, _ := runtime.Caller(0)
	module := filepath.Join(filepath.Dir(self), "..")
	build := func(out, pkg string) (string, error) {
		path := filepath.Join(dir, out)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", path, pkg)
		cmd.Dir = module
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
		return path, nil
	}
	echo, err := build("echo-basic", "sigs.k8s.io/gateway-api/conformance/echo-basic")
	if err != nil {
		return nil, err
	}
	dns, err := build("dnsresponder", "./cmd/dnsresponder")
	if err != nil {
		return nil, err
	}
	return map[string]Program{
		EchoBasicImage: {Path: echo, ReadyPort: echoBasicReadyPort},
		CoreDNSImage:   {Path: dns},
	}, nil
}

// echoBasicReadyPort is the HTTP port of echo-basic's default mode; its
// TCP, UDP and gRPC modes are left to the half-second rule.
func echoBasicReadyPort(env []string) int {
	get := func(name string) string {
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, name+"="); ok {
				return v
			}
		}
		return ""
	}
	if get("TCP_ECHO_SERVER") != "" || get("UDP_ECHO_SERVER") != "" || get("GRPC_ECHO_SERVER") != "" {
		return 0
	}
	if p, err := strconv.Atoi(get("HTTP_PORT")); err == nil {
		return p
	}
	return 3000
}

// CleanupOnSignal stops the cluster when the process gets SIGINT or SIGTERM
// and then exits with status 1, so an interrupted run leaves nothing behind.
// The returned function cancels that.
func (c *Cluster) CleanupOnSignal(also ...func()) (cancel func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			c.log.Warn("signal: cleaning up", "signal", sig)
			for _, f := range also {
				f()
			}
			_ = c.Stop()
			os.Exit(1)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
