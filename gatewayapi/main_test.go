package gatewayapi_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens input minimisation while fuzzing unless the flag is
// given explicitly: the seeds are multi-kilobyte YAML streams in which
// almost every mutation reaches new decoder code, so with the default of
// 60 seconds per input a short run would spend its time minimising.
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
