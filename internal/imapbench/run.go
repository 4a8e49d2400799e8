package imapbench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// maxErrorsPerClient ends a client that keeps failing: its errors are
// reported, and a server refusing every login is not hammered for minutes.
const maxErrorsPerClient = 1000

// CommandStats are one command's figures over a run.
type CommandStats struct {
	Name     string
	Count    int64 // completed with OK
	Errors   int64 // NO, BAD, I/O errors and timeouts
	P50, P99 time.Duration
	Max      time.Duration
}

// Result is what a Run measured.
type Result struct {
	Addr     string
	Clients  int
	Elapsed  time.Duration
	Sessions int64
	Ops      int64 // commands that completed with OK
	Errors   int64 // failed commands and connections
	Commands []CommandStats
	// SampleErrors are the first few errors verbatim.
	SampleErrors []string
}

// OpsPerSec is the throughput: completed commands per second.
func (r *Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Run drives the load described by o and returns what it measured. It
// returns an error for bad options; a cancelled ctx ends the run early with
// the partial result and ctx's error. Failed commands are in the Result,
// never an error of Run: the caller decides what they mean.
func Run(ctx context.Context, o Options) (*Result, error) {
	users, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("imapbench: %w", err)
	}
	words := strings.Fields(vocabulary)
	var ops atomic.Int64
	start := time.Now()
	workers := make([]*worker, o.Clients)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			id: i, o: &o, users: users, words: words, ops: &ops,
			rng:      rand.New(rand.NewPCG(o.Seed, uint64(i))),
			deadline: start.Add(o.Duration),
		}
		workers[i] = w
		wg.Go(func() {
			for !w.stopped(ctx) && w.totalErrors() < maxErrorsPerClient {
				w.session(ctx)
			}
		})
	}
	wg.Wait()
	r := merge(workers)
	r.Addr, r.Clients, r.Elapsed = o.Addr, o.Clients, time.Since(start)
	return r, ctx.Err()
}

func (w *worker) totalErrors() int64 {
	var n int64
	for _, e := range w.errs {
		n += e
	}
	return n
}

func merge(workers []*worker) *Result {
	r := &Result{}
	for k := range numKinds {
		cs := CommandStats{Name: k.String()}
		var lat []time.Duration
		for _, w := range workers {
			lat = append(lat, w.lat[k]...)
			cs.Errors += w.errs[k]
		}
		cs.Count = int64(len(lat))
		if len(lat) > 0 {
			slices.Sort(lat)
			cs.P50, cs.P99, cs.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
		}
		if k != kConnect {
			r.Ops += cs.Count
		}
		r.Errors += cs.Errors
		r.Commands = append(r.Commands, cs)
	}
	for _, w := range workers {
		r.Sessions += w.sessions
		r.SampleErrors = append(r.SampleErrors, w.samples...)
	}
	if len(r.SampleErrors) > maxSampleErrors {
		r.SampleErrors = r.SampleErrors[:maxSampleErrors]
	}
	return r
}

// percentile is the nearest-rank percentile p of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100 // ceil(n*p/100), 1-based
	return sorted[max(i, 1)-1]
}

// WriteTo prints the result as a table.
func (r *Result) WriteTo(w io.Writer) (int64, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "imap %s: %d clients, %.1f s, %d sessions: %d ops, %.1f ops/s, %d errors\n",
		r.Addr, r.Clients, r.Elapsed.Seconds(), r.Sessions, r.Ops, r.OpsPerSec(), r.Errors)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\tcount\terrors\tp50 ms\tp99 ms\tmax ms\t")
	for _, c := range r.Commands {
		if c.Count == 0 && c.Errors == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t\n", c.Name, c.Count, c.Errors, ms(c.P50), ms(c.P99), ms(c.Max))
	}
	tw.Flush()
	for _, e := range r.SampleErrors {
		fmt.Fprintf(&sb, "error: %s\n", e)
	}
	n, err := io.WriteString(w, sb.String())
	return int64(n), err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
