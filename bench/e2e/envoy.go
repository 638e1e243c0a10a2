package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/legateproxy/legate/bench/workload"
)

// The Envoy side (issue 8, item 4): with a real Envoy fed by `legate serve
// --envoy`, how long a route edit takes to be served, and how long Envoy
// itself spends applying route configurations (its own update_duration
// histograms). Route 0's Service is pointed at a local backend so that
// "served" is a real request answered 200 through Envoy rather than a
// guess from the control plane's side.

// envoyResult is what measureEnvoy found for one workload.
type envoyResult struct {
	// served are the times from a route edit (file rename) until a
	// request for the edited path was answered by the backend through
	// Envoy.
	served []time.Duration
	// updates are Envoy's update_duration histograms of its route,
	// listener and cluster subscriptions ("rds", "lds", "cds"), as
	// quantiles in milliseconds, over the whole run (start included).
	updates map[string]envoyQuantiles
	// rss is Envoy's resident set size once the full configuration is
	// served.
	rss   int64
	notes []string
}

// envoyQuantiles are a histogram's p50, p99 and maximum.
type envoyQuantiles struct {
	p50, p99, max float64
}

func measureEnvoy(c config, dir string, editFile string, r *result) error {
	r.envoy = &envoyResult{updates: map[string]envoyQuantiles{}}
	backend, backendPort, err := startBackend()
	if err != nil {
		return err
	}
	defer backend.Close()
	gwAddr, err := freeAddr()
	if err != nil {
		return err
	}
	_, gwPort, _ := net.SplitHostPort(gwAddr)
	orig, err := os.ReadFile(editFile)
	if err != nil {
		return err
	}
	patched, err := envoyWorkload(orig, gwPort, backendPort)
	if err != nil {
		return err
	}
	if err := os.WriteFile(editFile, patched, 0o644); err != nil {
		return err
	}
	// The folder is shared with the other measurements: put it back.
	defer func() { _ = os.WriteFile(editFile, orig, 0o644) }()

	addrs, err := freeAddrs(4)
	if err != nil {
		return err
	}
	xdsAddr, adminAddr, httpAddr, httpsAddr := addrs[0], addrs[1], addrs[2], addrs[3]
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	if err := os.MkdirAll(dir+".envoy", 0o755); err != nil {
		return err
	}
	logf, err := os.Create(dir + ".envoy.log")
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(c.legate, "serve", "--config-dir", dir, "--xds-address", xdsAddr,
		"--envoy", "--envoy-path", c.envoy, "--envoy-admin-address", adminAddr,
		"--envoy-dir", dir+".envoy", "--listen-address", "127.0.0.1",
		"--http-port", httpPort, "--https-port", httpsPort,
		"--metrics-address", "", "--health-address", "", "--admin-address", "", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer stop(cmd)

	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + net.JoinHostPort("127.0.0.1", gwPort)
	served := func(path string) bool {
		req, _ := http.NewRequest(http.MethodGet, url+path+"x", nil)
		req.Host = workload.Hostname(0)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	// The configuration is published whole, so once route 0 is served
	// all N are.
	if err := waitUntil(c.budget, func() bool { return served(workload.PrefixPath) }); err != nil {
		return fmt.Errorf("envoy never served route 0 (see %s): %w", logf.Name(), err)
	}
	pid, err := childPID(cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("finding Envoy's process: %w", err)
	}
	time.Sleep(2 * time.Second)
	if r.envoy.rss, err = procRSS(pid); err != nil {
		return err
	}

	deadline := time.Now().Add(c.budget)
	for k := 1; k <= c.edits && time.Now().Before(deadline); k++ {
		p := fmt.Sprintf("/app-%d/", k)
		start, err := rename(editFile, bytes.Replace(patched, []byte(workload.PrefixPath), []byte(p), 1))
		if err != nil {
			return err
		}
		if err := waitUntil(time.Minute, func() bool { return served(p) }); err != nil {
			return fmt.Errorf("route edit %d never served: %w", k, err)
		}
		r.envoy.served = append(r.envoy.served, time.Since(start))
	}
	// Envoy computes histogram quantiles when it flushes stats, every 5 s
	// by default.
	time.Sleep(6 * time.Second)
	hs, err := envoyUpdateDurations("http://" + adminAddr)
	if err != nil {
		r.envoy.notes = append(r.envoy.notes, err.Error())
	}
	r.envoy.updates = hs
	return nil
}

// envoyWorkload moves the Gateway listener of the first workload file to
// port gwPort, and points Service 0's three endpoints (the first of each
// address range) at the local backend: 127.0.0.1-3 all reach a listener
// on the wildcard address.
func envoyWorkload(orig []byte, gwPort, backendPort string) ([]byte, error) {
	out := orig
	for _, r := range []struct{ from, to string }{
		{"    port: 80\n    protocol: HTTP\n", "    port: " + gwPort + "\n    protocol: HTTP\n"},
		{"- 192.0.2.1\n", "- 127.0.0.1\n"},
		{"- 198.51.100.1\n", "- 127.0.0.2\n"},
		{"- 203.0.113.1\n", "- 127.0.0.3\n"},
	} {
		if !bytes.Contains(out, []byte(r.from)) {
			return nil, fmt.Errorf("the first workload file holds no %q", r.from)
		}
		out = bytes.Replace(out, []byte(r.from), []byte(r.to), 1)
	}
	// Every EndpointSlice of the file gets the backend's port; only
	// Service 0's addresses are local.
	port := fmt.Sprintf("  port: %d\n", workload.TargetPort)
	if !bytes.Contains(out, []byte(port)) {
		return nil, fmt.Errorf("the first workload file holds no %q", port)
	}
	return bytes.ReplaceAll(out, []byte(port), []byte("  port: "+backendPort+"\n")), nil
}

func startBackend() (*http.Server, string, error) {
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(l) }()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return srv, port, nil
}

// rename writes content to a temporary file and renames it over file, as
// an editor does; it returns the time of the rename.
func rename(file string, content []byte) (time.Time, error) {
	tmp := filepath.Join(filepath.Dir(file), ".bench-edit.tmp")
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return time.Time{}, err
	}
	start := time.Now()
	return start, os.Rename(tmp, file)
}

func waitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// childPID returns the pid of a child of pid (legate's Envoy), found by
// the parent pid in /proc/<pid>/stat.
func childPID(pid int) (int, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold spaces: the fields
		// after its closing parenthesis are state, then ppid.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return child, nil
		}
	}
	return 0, errors.New("no child process")
}

// updateDurationStat matches the update_duration histograms of xDS
// subscriptions, e.g. "http.<prefix>.rds.<name>.update_duration",
// "listener_manager.lds.update_duration", "cluster_manager.cds.update_duration".
var updateDurationStat = regexp.MustCompile(`(?:^|\.)(rds|lds|cds)\..*update_duration$|(?:^|\.)(lds|cds)\.update_duration$`)

// envoyUpdateDurations reads Envoy's update_duration histograms (cumulative
// quantiles, in ms) from its admin interface; several route
// configurations' histograms are reported by their largest p99.
func envoyUpdateDurations(admin string) (map[string]envoyQuantiles, error) {
	resp, err := http.Get(admin + "/stats?format=json&usedonly&filter=update_duration")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		Stats []struct {
			Histograms *struct {
				Quantiles []float64 `json:"supported_quantiles"`
				Computed  []struct {
					Name   string `json:"name"`
					Values []struct {
						Cumulative *float64 `json:"cumulative"`
					} `json:"values"`
				} `json:"computed_quantiles"`
			} `json:"histograms"`
		} `json:"stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading Envoy's stats: %w", err)
	}
	out := map[string]envoyQuantiles{}
	for _, s := range doc.Stats {
		if s.Histograms == nil {
			continue
		}
		q := s.Histograms.Quantiles
		for _, h := range s.Histograms.Computed {
			m := updateDurationStat.FindStringSubmatch(h.Name)
			if m == nil || len(h.Values) != len(q) {
				continue
			}
			kind := m[1] + m[2]
			var eq envoyQuantiles
			for i, v := range h.Values {
				if v.Cumulative == nil {
					continue
				}
				switch q[i] {
				case 50:
					eq.p50 = *v.Cumulative
				case 99:
					eq.p99 = *v.Cumulative
				case 100:
					eq.max = *v.Cumulative
				}
			}
			if old, ok := out[kind]; !ok || eq.p99 > old.p99 {
				out[kind] = eq
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("envoy reported no update_duration histogram")
	}
	return out, nil
}

// printEnvoyTable prints the Envoy side of every result that has one.
func printEnvoyTable(w io.Writer, results []*result) {
	var rows []*result
	for _, r := range results {
		if r.envoy != nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\nEnvoy side: legate serve --envoy, route 0 pointed at a local backend; \"served\" is from the file rename until a request for the edited path is answered 200 through Envoy; update_duration is Envoy's own histogram (ms) of applying each subscription's updates, start included")
	fmt.Fprintln(w, "\n| shape | N | route edit → served by Envoy p50 / p99 (n) | Envoy RDS update_duration p50 / p99 / max | LDS | CDS | Envoy RSS |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		e := r.envoy
		q := func(kind string) string {
			h, ok := e.updates[kind]
			if !ok {
				return "–"
			}
			return fmt.Sprintf("%.3g / %.3g / %.3g ms", h.p50, h.p99, h.max)
		}
		served := "–"
		if len(e.served) > 0 {
			served = series(e.served)
		}
		rss := "–"
		if e.rss > 0 {
			rss = fmt.Sprintf("%d MiB", e.rss>>20)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.shape, sizeName(r.n), served, q("rds"), q("lds"), q("cds"), rss)
		for _, n := range e.notes {
			fmt.Fprintf(w, "\nnote (%s/%s, Envoy): %s\n", r.shape, sizeName(r.n), n)
		}
	}
}
