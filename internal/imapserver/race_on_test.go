//go:build race

package imapserver_test

// raceEnabled: the race detector makes sync.Pool drop a quarter of what is
// put back, so allocation figures of code that pools buffers (pgx reads a
// large row into a pooled buffer) mean little under it.
const raceEnabled = true
