package imapbench

import (
	"testing"
	"time"
)

// BenchmarkGannet runs the whole profile against an in-process Gannet IMAP
// server with 10 users of 200 messages, as `gannet bench imap` does against
// a running one, so that
//
//	go test -run '^$' -bench Gannet -benchtime 20000x -cpuprofile cpu.out ./internal/imapbench
//
// profiles the server (and the client, which pprof separates by package).
// "argon2id" hashes passwords as production does; "fast-passwords" uses the
// test parameters, to show what LOGIN's hashing costs.
func BenchmarkGannet(b *testing.B) {
	for _, bc := range []struct {
		name string
		fast bool
	}{{"argon2id", false}, {"fast-passwords", true}} {
		b.Run(bc.name, func(b *testing.B) {
			addr := gannetIMAPOpts(b, 10, 200, bc.fast)
			b.ResetTimer()
			r, err := Run(b.Context(), Options{
				Addr: addr, Users: "test%d@example.test", UserRange: "1-10", Password: testPass,
				Clients: 4, Duration: MaxDuration, MaxOps: int64(b.N), Seed: 1,
			})
			if err != nil {
				b.Fatal(err)
			}
			if r.Errors != 0 {
				b.Fatalf("%d errors: %q", r.Errors, r.SampleErrors)
			}
			b.ReportMetric(r.OpsPerSec(), "ops/s")
			b.ReportMetric(float64(r.Elapsed)/float64(time.Millisecond)/float64(max(r.Sessions, 1)), "ms/session")
		})
	}
}
