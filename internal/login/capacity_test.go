package login

import "testing"

func TestCapacityFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cpus   int
		memory int64
		want   int
	}{
		{1, 0, 2},         // at least two
		{2, 24 << 30, 4},  // CPU-bound
		{64, 1 << 30, 16}, // memory-bound: 1 GiB / 64 MiB
		{8, 100 << 20, 2}, // tiny memory: still two
		{8, 0, 16},        // memory unknown
		{4, 512 << 20, 8}, // both agree
		{16, 3 * SlotMemory, 3},
	} {
		if got := capacityFor(c.cpus, c.memory); got != c.want {
			t.Errorf("capacityFor(%d, %d) = %d, want %d", c.cpus, c.memory, got, c.want)
		}
	}
	if got := memTotal([]byte("MemFree: 5 kB\nMemTotal:       24684132 kB\n")); got != 24684132<<10 {
		t.Errorf("memTotal = %d", got)
	}
}
