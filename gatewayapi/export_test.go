package gatewayapi

import "github.com/legateproxy/legate/translators"

// TranslateWith runs tr, a translator New returned, and gives its full
// Result, for tests of its memo.
func TranslateWith(tr translators.Translator, in *translators.Inputs, s translators.Settings) Result {
	return tr.(*translator).translate(in, s, true)
}
