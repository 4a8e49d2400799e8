//go:build race

package storetest

// raceEnabled scales down the heaviest tests: the race detector slows the pure-Go
// SQLite driver by an order of magnitude.
const raceEnabled = true
