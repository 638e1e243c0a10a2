package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The pod network: one bridge on the host holding the first address of
// PodCIDR, and per pod a network namespace "lgc-<pid>-<n>" (pid: the
// process owning the cluster) whose eth0 is one end of a veth pair, the
// other end on the bridge. The host reaches every pod directly on the
// bridge's subnet, so nothing is routed or forwarded.

// stateDir records which process owns which bridge, so that a later run
// can remove what a killed one left behind.
const stateDir = "/run/legate-localcluster"

func netnsPrefix(pid int) string { return fmt.Sprintf("lgc-%d-", pid) }

func ipCmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *Cluster) startNetwork(ctx context.Context) error {
	sweepStale(ctx, c.log.Info)
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("localcluster: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, c.bridge), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("localcluster: %w", err)
	}
	addr := netip.PrefixFrom(c.bridgeIP, c.prefix.Bits()).String()
	for _, args := range [][]string{
		{"link", "add", c.bridge, "type", "bridge"},
		// A bridge whose address was never set takes the lowest of its
		// ports' addresses, so it changes as pods come and go. The pods'
		// neighbour entries for the bridge's IP then name an address the
		// bridge no longer answers to, and what they send the host is
		// dropped until those entries are probed again, seconds later: a
		// reply in flight while another pod is deleted never arrives.
		{"link", "set", c.bridge, "address", c.bridgeMAC()},
		{"addr", "add", addr, "dev", c.bridge},
		{"link", "set", c.bridge, "up"},
	} {
		if err := ipCmd(ctx, args...); err != nil {
			return fmt.Errorf("localcluster: pod network: %w", err)
		}
	}
	return nil
}

// podNetwork creates the namespace of pod n with address ip.
func (c *Cluster) podNetwork(ctx context.Context, n int, ip netip.Addr) (netns string, err error) {
	netns = fmt.Sprintf("%s%d", netnsPrefix(os.Getpid()), n)
	hostEnd := c.hostEnd(n)
	defer func() {
		if err != nil {
			_ = deletePodNetwork(netns, hostEnd)
		}
	}()
	for _, args := range [][]string{
		{"netns", "add", netns},
		{"link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", netns},
		{"link", "set", hostEnd, "master", c.bridge, "up"},
		{"-n", netns, "link", "set", "lo", "up"},
		{"-n", netns, "addr", "add", netip.PrefixFrom(ip, c.prefix.Bits()).String(), "dev", "eth0"},
		{"-n", netns, "link", "set", "eth0", "up"},
		{"-n", netns, "route", "add", "default", "via", c.bridgeIP.String()},
	} {
		if err := ipCmd(ctx, args...); err != nil {
			return "", err
		}
	}
	return netns, nil
}

// bridgeMAC is the bridge's fixed, locally administered address, made of
// "lg" and the cluster's id.
func (c *Cluster) bridgeMAC() string {
	return fmt.Sprintf("02:6c:67:00:%s:%s", c.id[:2], c.id[2:4])
}

// hostEnd names the host's end of pod n's veth pair. Interface names have
// at most 15 bytes: "lgv" + 4 hex of the pid + at most 8 hex of n.
func (c *Cluster) hostEnd(n int) string { return fmt.Sprintf("lgv%s%x", c.id, n) }

// deletePodNetwork removes a pod's veth pair and namespace. The veth is
// deleted explicitly: a namespace lives on, unnamed, while anything still
// refers to it, and its end of the pair with it.
func deletePodNetwork(netns, hostEnd string) error {
	var errs []error
	if hostEnd != "" && linkExists(hostEnd) {
		if err := ipCmd(context.Background(), "link", "delete", hostEnd); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat(filepath.Join("/run/netns", netns)); err == nil {
		if err := ipCmd(context.Background(), "netns", "delete", netns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) stopNetwork() error {
	var errs []error
	// Pods the runner could not stop cleanly still have namespaces.
	for _, ns := range listNetns() {
		if strings.HasPrefix(ns, netnsPrefix(os.Getpid())) {
			killNetnsProcesses(ns)
			if err := deletePodNetwork(ns, ""); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, l := range listLinks() {
		if strings.HasPrefix(l, "lgv"+c.id) {
			if err := ipCmd(context.Background(), "link", "delete", l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if c.bridge != "" {
		if linkExists(c.bridge) {
			if err := ipCmd(context.Background(), "link", "delete", c.bridge); err != nil {
				errs = append(errs, err)
			}
		}
		_ = os.Remove(filepath.Join(stateDir, c.bridge))
	}
	if len(errs) > 0 {
		return fmt.Errorf("localcluster: removing the pod network: %w", errors.Join(errs...))
	}
	return nil
}

func listNetns() []string {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func listLinks() []string {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func killNetnsProcesses(netns string) {
	out, err := exec.Command("ip", "netns", "pids", netns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// sweepStale removes the namespaces and bridges of clusters whose process
// is gone (killed before its Stop could run).
func sweepStale(ctx context.Context, logf func(string, ...any)) {
	for _, ns := range listNetns() {
		rest, ok := strings.CutPrefix(ns, "lgc-")
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || processAlive(pid) {
			continue
		}
		killNetnsProcesses(ns)
		if err := ipCmd(ctx, "netns", "delete", ns); err == nil {
			logf("removed a stale pod network namespace", "netns", ns)
		}
	}
	entries, _ := os.ReadDir(stateDir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(stateDir, e.Name()))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || processAlive(pid) {
			continue
		}
		id := strings.TrimPrefix(e.Name(), "lgbr")
		for _, l := range listLinks() {
			if strings.HasPrefix(l, "lgv"+id) {
				_ = ipCmd(ctx, "link", "delete", l)
			}
		}
		if linkExists(e.Name()) {
			if err := ipCmd(ctx, "link", "delete", e.Name()); err == nil {
				logf("removed a stale pod bridge", "bridge", e.Name())
			}
		}
		_ = os.Remove(filepath.Join(stateDir, e.Name()))
	}
}
