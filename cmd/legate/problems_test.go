package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/legateproxy/legate/translators"
)

func TestProblemReporterLogsEachChangeOnce(t *testing.T) {
	var buf bytes.Buffer
	r := newProblemReporter(slog.New(slog.NewTextHandler(&buf, nil)))
	bad := translators.ObjectRef{Kind: "HTTPRoute", Namespace: "ns", Name: "bad"}
	good := translators.ObjectRef{Kind: "HTTPRoute", Namespace: "ns", Name: "good"}
	problem := func(msg string) []translators.Problem {
		return []translators.Problem{{Severity: translators.SeverityError, Reason: "BackendNotFound", Message: msg}}
	}
	snapshot := func(problems []translators.Problem) []*translators.ObjectStatus {
		return []*translators.ObjectStatus{{Object: bad, Problems: problems}, {Object: good}}
	}
	count := func() int { return strings.Count(buf.String(), "object problem") }

	first := snapshot(problem("service a not found"))
	r.report(first)
	if count() != 1 || !strings.Contains(buf.String(), "object=HTTPRoute/ns/bad") {
		t.Fatalf("first report: want one line for the bad route; log:\n%s", &buf)
	}
	r.report(first)                                    // the same list (endpoint fast path)
	r.report(snapshot(problem("service a not found"))) // an equal one
	if count() != 1 {
		t.Fatalf("unchanged problems logged again; log:\n%s", &buf)
	}
	r.report(snapshot(problem("service b not found")))
	if count() != 2 {
		t.Fatalf("changed problem not logged; log:\n%s", &buf)
	}
	// Fixed, then broken the same way again: logged again.
	r.report(snapshot(nil))
	r.report(snapshot(problem("service b not found")))
	if count() != 3 {
		t.Fatalf("a problem back after a fix not logged; log:\n%s", &buf)
	}
	// Gone from the statuses, then back: logged again.
	r.report(nil)
	r.report(snapshot(problem("service b not found")))
	if count() != 4 {
		t.Fatalf("a problem of an object that came back not logged; log:\n%s", &buf)
	}
}
