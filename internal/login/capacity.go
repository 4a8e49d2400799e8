package login

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// SlotMemory is the memory DefaultCapacity budgets per password check: an
// argon2id hash with password.DefaultParams holds 19 MiB while it runs, and
// leaves as much garbage behind, which lingers until the collector runs; the
// rest is headroom for the process's other work. With the capacity this
// gives, the hashing of a full wave of logins stays within the memory limit
// (which the collector enforces) whatever GOGC is.
const SlotMemory = 64 << 20

// DefaultCapacity is how many password checks may run at once on this
// machine: max(2, min(2 × NumCPU, memory / SlotMemory)). Hashing is CPU
// work, so more slots than twice the CPUs only lengthen every check; memory
// is the process's limit: the Go memory limit (GOMEMLIMIT) when one is set,
// else the cgroup's (Linux, cgroup v2 memory.max), else the machine's
// (/proc/meminfo MemTotal), else unknown (the CPU bound alone).
func DefaultCapacity() int {
	return capacityFor(runtime.NumCPU(), memoryBudget())
}

func capacityFor(cpus int, memory int64) int {
	n := 2 * cpus
	if memory > 0 {
		n = int(min(int64(n), memory/SlotMemory))
	}
	return max(2, n)
}

// memoryBudget is the memory the process may use, in bytes; 0 = unknown.
func memoryBudget() int64 {
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return l
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n // "max" (no limit) does not parse and falls through
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		return memTotal(b)
	}
	return 0
}

// memTotal parses MemTotal (in kB) from /proc/meminfo; 0 if absent.
func memTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil && n > 0 {
				return n << 10
			}
		}
	}
	return 0
}
