package mailimport_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"gannet/internal/mailimport"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// BenchmarkImportMbox imports b.N messages of about 2 KB from an mbox
// stream into a fresh store, with 1 and 4 appends at once.
func BenchmarkImportMbox(b *testing.B) {
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n", 25)
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			st := testopen.Open(b, testopen.FastPasswords)
			acct := storetest.NewAccount(b, st, "bench@example.org", "pw")
			var sb strings.Builder
			for i := range b.N {
				fmt.Fprintf(&sb, "From x@example.org Mon Jan  1 00:00:00 2024\nMessage-ID: <%d@example.org>\nSubject: message %d\n\n%s\n", i, i, body)
			}
			b.SetBytes(int64(sb.Len() / b.N))
			b.ResetTimer()
			im := &mailimport.Importer{Store: st, Account: acct, Workers: workers}
			src := mailimport.NewMbox(strings.NewReader(sb.String()), "bench", mailimport.Mboxrd, mailimport.Limits{})
			if err := im.Import(context.Background(), src); err != nil {
				b.Fatal(err)
			}
			if s := im.Summary(); s.Messages != b.N {
				b.Fatalf("imported %d of %d", s.Messages, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}
