package netserver

import (
	"slices"
	"sync"

	"gannet/internal/connlimit"
)

// Registry counts live connections per protocol, for metrics. One Registry
// is shared by every listener of the process.
type Registry struct {
	mu    sync.Mutex
	stats map[string]*ProtoStats
}

// ProtoStats are one protocol's counters.
type ProtoStats struct {
	Proto        string
	Open         int64  // connections open now
	Accepted     uint64 // connections admitted since start
	RefusedPerIP uint64 // refused: the client address held its maximum
	RefusedTotal uint64 // refused: the process held its maximum
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{stats: map[string]*ProtoStats{}} }

func (r *Registry) get(proto string) *ProtoStats {
	s := r.stats[proto]
	if s == nil {
		s = &ProtoStats{Proto: proto}
		r.stats[proto] = s
	}
	return s
}

func (r *Registry) opened(proto string) {
	r.mu.Lock()
	s := r.get(proto)
	s.Open++
	s.Accepted++
	r.mu.Unlock()
}

func (r *Registry) closed(proto string) {
	r.mu.Lock()
	r.get(proto).Open--
	r.mu.Unlock()
}

func (r *Registry) refused(proto string, why connlimit.Reason) {
	r.mu.Lock()
	s := r.get(proto)
	if why == connlimit.Total {
		s.RefusedTotal++
	} else {
		s.RefusedPerIP++
	}
	r.mu.Unlock()
}

// Stats returns every protocol's counters, sorted by protocol.
func (r *Registry) Stats() []ProtoStats {
	r.mu.Lock()
	out := make([]ProtoStats, 0, len(r.stats))
	for _, s := range r.stats {
		out = append(out, *s)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b ProtoStats) int {
		if a.Proto < b.Proto {
			return -1
		}
		if a.Proto > b.Proto {
			return 1
		}
		return 0
	})
	return out
}

// Open returns how many connections of proto are open.
func (r *Registry) Open(proto string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.stats[proto]; s != nil {
		return s.Open
	}
	return 0
}
