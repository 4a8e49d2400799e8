// Package clustertest runs Gannet as several nodes on one PostgreSQL, as an
// operator would: the real `gannet` binary, `gannet serve` three times with
// one configuration each (the same store URL, their own listeners), admin
// commands from any node, SMTP load spread over the nodes, a node killed
// with SIGKILL and started again. It holds tests only (issue 14, "Done
// when"; docs/ARCHITECTURE.md, "Several nodes").
package clustertest
