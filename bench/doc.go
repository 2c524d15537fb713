// Package bench holds PUOD's performance benchmarks (`make bench`). Each
// benchmark measures PUOD and a baseline in the same run and reports the
// ratio, so the figures mean the same on any machine. Results are written
// to BENCHMARKS.md by cmd/benchreport.
package bench
