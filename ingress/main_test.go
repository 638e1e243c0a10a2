package ingress_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens input minimisation while fuzzing unless the flag is given
// explicitly. The seeds are multi-kilobyte YAML streams, and almost every
// mutation reaches new code in the YAML and Kubernetes decoders, so with the
// default of 60 seconds per input a short run (-fuzztime=60s) spends all its
// time minimising its first finds and never executes new inputs.
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
