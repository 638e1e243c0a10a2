package emissary_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens input minimisation while fuzzing unless the flag is
// given: the seeds are YAML streams, and with the default minimisation time
// a short run spends itself minimising its first finds.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.fuzzminimizetime" {
			set = true
		}
	})
	if !set && flag.Lookup("test.fuzzminimizetime") != nil {
		if err := flag.Set("test.fuzzminimizetime", "3s"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
