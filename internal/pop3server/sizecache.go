package pop3server

import "sync"

// sizeCacheEntries bounds the wire-size cache: about 100 bytes an entry.
const sizeCacheEntries = 1 << 16

// sizeCache maps a blob ID to the message's POP3 wire size (see wireSize).
// Blob IDs name content (SHA-256), so an entry is true forever; eviction is
// only to bound memory, and drops arbitrary entries (map order).
type sizeCache struct {
	mu  sync.Mutex
	max int
	m   map[string]int64
}

func newSizeCache(max int) *sizeCache {
	return &sizeCache{max: max, m: make(map[string]int64)}
}

func (c *sizeCache) get(blob string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[blob]
	return n, ok
}

func (c *sizeCache) put(blob string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[blob]; !ok && len(c.m) >= c.max {
		// Evict an eighth at once, so that eviction is amortised.
		drop := max(1, c.max/8)
		for k := range c.m {
			delete(c.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.m[blob] = n
}
