//go:build !unix

package gen

// cpuTime is not measured here; the benchmarks report 0 cpu-ns/model.
func cpuTime() int64 { return 0 }
