package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// formatCounter counts how often it is formatted.
type formatCounter struct{ n *int }

func (f formatCounter) String() string { *f.n++; return "formatted" }

// The cache's messages are formatted only when their level is on: at Warn,
// its Info and Debug chatter (which prints whole subscriptions) costs
// nothing, while its warnings still arrive; at Debug, its Info messages
// arrive as Debug.
func TestCacheLoggerFormatsOnlyWhatIsLogged(t *testing.T) {
	var buf bytes.Buffer
	n := 0
	arg := formatCounter{&n}
	warn := cacheLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	warn.Infof("open delta watch %v", arg)
	warn.Debugf("respond %v", arg)
	if n != 0 || buf.Len() != 0 {
		t.Fatalf("at Warn: formatted %d times, logged %q", n, buf.String())
	}
	warn.Warnf("careful %v", arg)
	if n != 1 || !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "careful formatted") {
		t.Fatalf("a warning: formatted %d times, logged %q", n, buf.String())
	}
	buf.Reset()
	debug := cacheLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	debug.Infof("open delta watch %v", arg)
	if got := buf.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, "open delta watch formatted") {
		t.Fatalf("at Debug: logged %q", got)
	}
}
