package emissary

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// moduleDefaults are the settings of the ambassador Module that apply to
// every Mapping which does not set them itself.
type moduleDefaults struct {
	CircuitBreakers         []*v3.CircuitBreaker `json:"circuit_breakers,omitempty"`
	LoadBalancer            *v3.LoadBalancer     `json:"load_balancer,omitempty"`
	RetryPolicy             *v3.RetryPolicy      `json:"retry_policy,omitempty"`
	CORS                    *v3.CORS             `json:"cors,omitempty"`
	ClusterIdleTimeoutMs    *int64               `json:"cluster_idle_timeout_ms,omitempty"`
	ClusterRequestTimeoutMs *int64               `json:"cluster_request_timeout_ms,omitempty"`
}

// moduleMatches are Module settings whose value Legate already has: set
// to that value they are accepted, otherwise reported as not supported.
var moduleMatches = map[string]any{
	"regex_type":    "safe",
	"merge_slashes": false,
}

// moduleNotApplied explains Module settings that Legate reads but cannot
// apply, by name.
var moduleNotApplied = map[string]string{
	"diagnostics": "diagnostics is not applied: Legate never serves Emissary's diagnostics (/ambassador/v0/diag/) through Envoy's listeners; " +
		"its own diagnostics are on `legate serve --admin-address`, loopback only unless allowed, whatever this setting says",
}

// module reads the Modules: the one named "ambassador" gives Mapping
// defaults (circuit_breakers, load_balancer, retry_policy, cors,
// cluster_idle_timeout_ms, cluster_request_timeout_ms as timeout_ms) and
// the connection settings of Emissary's HTTP listeners (see
// connectionSettings); settings that match what Legate builds anyway
// (regex_type: safe, merge_slashes: false) are accepted; every other
// setting is reported as not supported.
func (tr *translation) module(mods []*v3.Module) {
	found := false
	for _, mod := range mods {
		rep := newReport("Module", mod)
		tr.reports = append(tr.reports, rep)
		if mod.Name != "ambassador" {
			rep.add(translators.SeverityWarning, "metadata.name", "NotSupported", "only the Module named \"ambassador\" is read; this one has no effect")
			continue
		}
		if found {
			rep.add(translators.SeverityWarning, "metadata.name", "Duplicate", "another ambassador Module (the first by namespace and name) is used; this one has no effect")
			continue
		}
		found = true
		raw := mod.Spec.Config.Raw
		if len(raw) == 0 {
			continue
		}
		var all map[string]json.RawMessage
		if err := json.Unmarshal(raw, &all); err != nil {
			rep.add(translators.SeverityError, "spec.config", "InvalidConfig", "config is not an object: %v", err)
			continue
		}
		var d moduleDefaults
		if err := json.Unmarshal(raw, &d); err != nil {
			rep.add(translators.SeverityError, "spec.config", "InvalidConfig", "%v; no setting of the Module is used", err)
			continue
		}
		tr.defaults = &d
		keys := make([]string, 0, len(all))
		for k := range all {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		tr.httpConn = connectionSettings(all, rep)
		for _, k := range keys {
			switch k {
			case "circuit_breakers", "load_balancer", "retry_policy", "cors", "cluster_idle_timeout_ms", "cluster_request_timeout_ms":
				continue
			}
			if _, ok := connectionKeys[k]; ok {
				continue
			}
			if why, ok := moduleNotApplied[k]; ok {
				rep.add(translators.SeverityWarning, "spec.config."+k, "NotSupported", "%s", why)
				continue
			}
			if want, ok := moduleMatches[k]; ok {
				var got any
				if json.Unmarshal(all[k], &got) == nil && got == want {
					continue
				}
				rep.add(translators.SeverityWarning, "spec.config."+k, "NotSupported", "%s other than %v is not supported and is ignored", k, want)
				continue
			}
			rep.add(translators.SeverityWarning, "spec.config."+k, "NotSupported", "%s is not supported and is ignored", k)
		}
	}
}

// withDefaults returns obj with the ambassador Module's defaults filled in
// where obj sets nothing (a copy; obj itself is not changed).
func (tr *translation) withDefaults(obj *v3.Mapping) *v3.Mapping {
	d := tr.defaults
	if d == nil {
		return obj
	}
	out := obj.DeepCopy()
	sp := &out.Spec
	if sp.CircuitBreakers == nil && d.CircuitBreakers != nil {
		for _, cb := range d.CircuitBreakers {
			sp.CircuitBreakers = append(sp.CircuitBreakers, cb.DeepCopy())
		}
	}
	if sp.LoadBalancer == nil && d.LoadBalancer != nil {
		sp.LoadBalancer = d.LoadBalancer.DeepCopy()
	}
	if sp.RetryPolicy == nil && d.RetryPolicy != nil {
		sp.RetryPolicy = d.RetryPolicy.DeepCopy()
	}
	if sp.CORS == nil && d.CORS != nil {
		sp.CORS = d.CORS.DeepCopy()
	}
	if sp.ClusterIdleTimeoutMs == nil && d.ClusterIdleTimeoutMs != nil {
		v := *d.ClusterIdleTimeoutMs
		sp.ClusterIdleTimeoutMs = &v
	}
	if sp.TimeoutMs == nil && d.ClusterRequestTimeoutMs != nil {
		v := *d.ClusterRequestTimeoutMs
		sp.TimeoutMs = &v
	}
	return out
}

// connectionKeys are the Module settings of the HTTP connection manager
// of Emissary's listeners: they become the listeners' ir.HTTPConnection.
var connectionKeys = map[string]bool{
	"server_name":              true,
	"use_remote_address":       true,
	"xff_num_trusted_hops":     true,
	"strip_matching_host_port": true,
	"listener_idle_timeout_ms": true,
}

// connectionSettings reads the connection settings of the ambassador
// Module's config, with Emissary's semantics and defaults:
//
//   - server_name: the Server response header (default "envoy", Envoy's).
//   - use_remote_address: the client address is the connection's peer
//     (default true); false takes it from X-Forwarded-For.
//   - xff_num_trusted_hops: how many proxies in front of Envoy are
//     trusted in X-Forwarded-For (default 0).
//   - strip_matching_host_port: remove the port from Host before routing
//     when it is the listener's port (default false).
//   - listener_idle_timeout_ms: close a client connection idle this long
//     (default 1 hour, Envoy's); 0 disables the timeout.
//
// A value of the wrong type or out of range is reported on its field (an
// Error) and left out; the other settings and every route still apply.
// It returns nil when the Module sets none of them.
func connectionSettings(all map[string]json.RawMessage, rep *report) *ir.HTTPConnection {
	hc := &ir.HTTPConnection{Source: rep.source("spec.config")}
	set := false
	bad := func(k, format string, args ...any) {
		rep.add(translators.SeverityError, "spec.config."+k, "InvalidValue", "%s is left out: "+format, append([]any{k}, args...)...)
	}
	if raw, ok := all["server_name"]; ok {
		var v string
		switch err := json.Unmarshal(raw, &v); {
		case err != nil:
			bad("server_name", "want a string")
		case ir.ValidateServerName(v) != nil:
			bad("server_name", "%v", ir.ValidateServerName(v))
		default:
			hc.ServerName, set = v, true
		}
	}
	for _, k := range []string{"use_remote_address", "strip_matching_host_port"} {
		raw, ok := all[k]
		if !ok {
			continue
		}
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			bad(k, "want true or false")
			continue
		}
		set = true
		if k == "use_remote_address" {
			hc.UseRemoteAddress = &v
		} else {
			hc.StripMatchingHostPort = v
		}
	}
	if raw, ok := all["xff_num_trusted_hops"]; ok {
		if n, ok := wholeNumber(raw, math.MaxUint32); ok {
			hc.XFFNumTrustedHops, set = uint32(n), true
		} else {
			bad("xff_num_trusted_hops", "want a whole number from 0 to %d", uint32(math.MaxUint32))
		}
	}
	if raw, ok := all["listener_idle_timeout_ms"]; ok {
		// Envoy takes durations up to about 315 576 000 000 seconds.
		const maxMs = 315_576_000_000_000
		switch n, ok := wholeNumber(raw, maxMs); {
		case !ok:
			bad("listener_idle_timeout_ms", "want a whole number of milliseconds from 0 to %d", int64(maxMs))
		case n == 0:
			hc.IdleTimeout, set = -1, true // 0 disables the timeout
		default:
			hc.IdleTimeout, set = time.Duration(n)*time.Millisecond, true
		}
	}
	if !set {
		return nil
	}
	return hc
}

// wholeNumber reads raw as an integer in [0, max].
func wholeNumber(raw json.RawMessage, max uint64) (uint64, bool) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f != math.Trunc(f) || f > float64(max) {
		return 0, false
	}
	return uint64(f), true
}
