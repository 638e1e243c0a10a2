package gatewayapi

import "github.com/legateproxy/legate/translators/ir"

// usage counts how many times the virtual hosts of a run's listeners
// name each cluster (a route's backends and mirrors) and each secret
// (its TLS), so that emit hands out only the clusters and secrets in
// use. With 10k routes, walking every route of every virtual host for
// that was a large part of a run, while an edit changes few virtual
// hosts: the counts are kept in the translator's scratch from one run
// to the next, with the lists of virtual hosts they were counted from,
// and each run counts only the virtual hosts that are not the ones of
// the last (virtual hosts are never written once made, so one pointer
// names the same backends run after run).
type usage struct {
	clusters map[string]int
	secrets  map[string]int
	// listeners are the virtual hosts counted, per listener in the
	// order emit made them.
	listeners [][]*ir.VirtualHost
	// flips counts the times a count went from zero to some or back:
	// what is in use is as it was while it does not change.
	flips int
}

// count makes vhs the virtual hosts of the k-th listener (k at most the
// number counted): the ones counted for it and not among vhs are
// uncounted, those of vhs not among them counted.
func (u *usage) count(k int, vhs []*ir.VirtualHost) {
	if u.clusters == nil {
		u.clusters, u.secrets = map[string]int{}, map[string]int{}
	}
	if k == len(u.listeners) {
		u.listeners = append(u.listeners, nil)
	}
	old := u.listeners[k]
	// Both lists are sorted by name when they come from portListener,
	// so a walk side by side pairs most unchanged virtual hosts; the
	// counts are right whatever the order: a virtual host not paired
	// with itself is uncounted on one side and counted on the other.
	i, j := 0, 0
	for i < len(old) || j < len(vhs) {
		switch {
		case i < len(old) && j < len(vhs) && old[i] == vhs[j]:
			i, j = i+1, j+1
		case j == len(vhs) || i < len(old) && old[i].Name < vhs[j].Name:
			u.add(old[i], -1)
			i++
		default:
			u.add(vhs[j], 1)
			j++
		}
	}
	u.listeners[k] = vhs
}

// keep uncounts the listeners past the first n, which this run did not
// make.
func (u *usage) keep(n int) {
	for _, vhs := range u.listeners[min(n, len(u.listeners)):] {
		for _, vh := range vhs {
			u.add(vh, -1)
		}
	}
	clear(u.listeners[min(n, len(u.listeners)):])
	u.listeners = u.listeners[:min(n, len(u.listeners))]
}

// add adds d to the counts of what vh names.
func (u *usage) add(vh *ir.VirtualHost, d int) {
	if vh.TLS != nil {
		for _, s := range vh.TLS.SecretNames {
			u.flips += bump(u.secrets, s, d)
		}
	}
	for _, r := range vh.Routes {
		if r.Forward != nil {
			for _, b := range r.Forward.Backends {
				u.flips += bump(u.clusters, b.Cluster, d)
			}
		}
		for _, m := range r.Filters.Mirrors {
			u.flips += bump(u.clusters, m.Cluster, d)
		}
	}
}

// bump adds d to m[k], deleting it at zero (the counts hold only what is
// in use), and returns 1 if k came into use or went out of it, else 0.
func bump(m map[string]int, k string, d int) int {
	was := m[k]
	if n := was + d; n != 0 {
		m[k] = n
		if was == 0 {
			return 1
		}
		return 0
	}
	delete(m, k)
	return 1
}
