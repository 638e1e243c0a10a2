package gatewayapi

import (
	"fmt"

	"github.com/legateproxy/legate/translators"
)

// TranslateWith runs tr, a translator New returned, and gives its full
// Result, for tests of its memo.
func TranslateWith(tr translators.Translator, in *translators.Inputs, s translators.Settings) Result {
	return tr.(*translator).translate(in, s, true)
}

// CheckPlacedEntries returns an error if a route tr's memo remembers at
// its place does not have the entry its key finds: the next run takes a
// route's entry from its place when the route there is the same.
func CheckPlacedEntries(tr translators.Translator) error {
	m := tr.(*translator).memo
	if m == nil {
		return nil
	}
	for i, p := range m.order {
		if p.memo == nil {
			continue
		}
		if got := m.routes.get(p.memo.key); got != p.memo {
			return fmt.Errorf("route %d (%s/%s): the entry at its place is not the one of its key %s", i, p.meta.Namespace, p.meta.Name, p.memo.key)
		}
		if p.memo.uid != p.meta.UID || p.memo.rv != p.meta.ResourceVersion {
			return fmt.Errorf("route %d (%s/%s): the entry at its place is of another version", i, p.meta.Namespace, p.meta.Name)
		}
	}
	return nil
}
