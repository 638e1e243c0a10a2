package translators

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSingleReportEqualsStatusSet checks, on random reports and problems,
// that whenever the single-report shortcut answers, it answers what the
// StatusSet gives, and that neither writes into the lists, their entries
// or the slices inside them.
func TestSingleReportEqualsStatusSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	answered := 0
	for iter := range 3000 {
		reports, problems := randomReports(rng)
		// Keep copies of the lists, of their entries and of their
		// problems' arrays, to check that nothing writes into them.
		var lists [][]*ObjectStatus
		var entries []ObjectStatus
		var before [][]Problem
		for _, r := range reports {
			lists = append(lists, slices.Clone(r))
			for _, o := range r {
				entries = append(entries, *o)
				before = append(before, slices.Clone(o.Problems[:cap(o.Problems)]))
			}
		}
		want := slowStatuses(reports, problems)
		got, ok := singleReport(reports, problems)
		k := 0
		for i, r := range reports {
			if !slices.Equal(r, lists[i]) {
				t.Fatalf("iteration %d: a report was written into", iter)
			}
			for _, o := range r {
				if !reflect.DeepEqual(*o, entries[k]) {
					t.Fatalf("iteration %d: a report's entry was written into", iter)
				}
				if !slices.Equal(before[k], o.Problems[:cap(o.Problems)]) {
					t.Fatalf("iteration %d: a status's problems array was written into", iter)
				}
				k++
			}
		}
		if !ok {
			continue
		}
		answered++
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("iteration %d: shortcut gives\n%+v\nStatusSet gives\n%+v", iter, got, want)
		}
	}
	if answered < 500 {
		t.Fatalf("the shortcut answered only %d of 3000 cases: the test does not exercise it", answered)
	}
}

func slowStatuses(reports [][]*ObjectStatus, problems []refProblem) []*ObjectStatus {
	n := 0
	for _, r := range reports {
		n += len(r)
	}
	s := newStatusSetFor(n)
	for _, r := range reports {
		s.Merge(r)
	}
	for _, p := range problems {
		s.AddProblem(p.ref, p.problem)
	}
	return s.take()
}

func randomReports(rng *rand.Rand) ([][]*ObjectStatus, []refProblem) {
	ref := func() ObjectRef {
		return ObjectRef{Group: "g", Kind: []string{"A", "B"}[rng.IntN(2)], Namespace: "ns", Name: fmt.Sprint(rng.IntN(30))}
	}
	problem := func() Problem {
		return Problem{Severity: SeverityError, Reason: "R", Message: fmt.Sprint(rng.IntN(3))}
	}
	reports := make([][]*ObjectStatus, 1+rng.IntN(3))
	for i := range reports {
		if rng.IntN(3) > 0 && i > 0 {
			continue // most translators say nothing
		}
		for range rng.IntN(8) {
			o := ObjectStatus{Object: ref(), Generation: int64(rng.IntN(3))}
			for range rng.IntN(3) {
				o.Problems = append(o.Problems, problem())
			}
			if rng.IntN(2) == 0 {
				// Room behind the problems, which an append must not use.
				o.Problems = append(make([]Problem, 0, len(o.Problems)+2), o.Problems...)
			}
			switch rng.IntN(3) {
			case 0:
				o.Conditions = []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue}}
			case 1:
				o.Conditions = []metav1.Condition{}
			}
			reports[i] = append(reports[i], &o)
		}
		if rng.IntN(4) > 0 {
			reports[i] = sortedStatuses(reports[i])
		}
	}
	var problems []refProblem
	for range rng.IntN(4) {
		r := ref()
		if l := reports[0]; len(l) > 0 && rng.IntN(4) > 0 {
			r = l[rng.IntN(len(l))].Object // mostly on a reported object
		}
		problems = append(problems, refProblem{r, problem()})
	}
	return reports, problems
}
