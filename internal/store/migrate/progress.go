package migrate

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Progress reports a move's progress: on a terminal one line rewritten in
// place (counts, rate, ETA), elsewhere (a log, a pipe) a plain line every
// few seconds. A nil writer reports nothing.
type Progress struct {
	w    io.Writer
	tty  bool
	now  func() time.Time
	mu   sync.Mutex
	name string
	// total is the number of messages the pass expects; done and bytes
	// what it has copied.
	total, done, bytes int64
	start, last        time.Time
}

// NewProgress reports to w; a terminal (a character device) gets the
// rewritten line.
func NewProgress(w io.Writer) *Progress {
	p := &Progress{w: w, now: time.Now}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// every is how often a plain (non-terminal) line is written; a terminal's
// line is redrawn at most every tick.
const (
	every = 5 * time.Second
	tick  = 200 * time.Millisecond
)

// Start begins a pass expecting total messages.
func (p *Progress) Start(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.total, p.done, p.bytes = name, total, 0, 0
	p.start = p.now()
	p.last = p.start
	if p.w != nil && !p.tty {
		fmt.Fprintf(p.w, "%s: %d messages to look at\n", name, total)
	}
}

// Add counts n messages and their new bodies' bytes.
func (p *Progress) Add(n, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.bytes += bytes
	now := p.now()
	interval := every
	if p.tty {
		interval = tick
	}
	if p.w == nil || now.Sub(p.last) < interval {
		return
	}
	p.last = now
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(now))
	} else {
		fmt.Fprintln(p.w, p.line(now))
	}
}

// line is the progress text: counts, share, size, rate and ETA.
func (p *Progress) line(now time.Time) string {
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	s := fmt.Sprintf("%s: %d", p.name, p.done)
	if p.total > 0 {
		s += fmt.Sprintf("/%d messages (%d%%)", p.total, min(100, p.done*100/p.total))
	} else {
		s += " messages"
	}
	s += fmt.Sprintf(", %.1f MB, %.0f msg/s", float64(p.bytes)/1e6, rate)
	if rate > 0 && p.total > p.done {
		eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

// Done ends a pass with its figures.
func (p *Progress) Done(st Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	rate := 0.0
	if s := st.Elapsed.Seconds(); s > 0 {
		rate = float64(st.Messages) / s
	}
	fmt.Fprintf(p.w, "%s: %d accounts changed, %d messages (%d bodies, %.1f MB), %d expunges, %d queued; %s, %.0f msg/s\n",
		p.name, st.Accounts, st.Messages, st.Bodies, float64(st.Bytes)/1e6, st.Tombstones, st.Queue,
		st.Elapsed.Round(time.Millisecond), rate)
}
