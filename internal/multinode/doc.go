// Package multinode holds the multi-node fault-injection convergence test:
// two chat nodes (each its own process, broker, gateway and Connect
// handlers) over one SQLite store and one JetStream stream, clients and
// writers behind cutting proxies, and a node restart that clients resume
// from (multinode_test.go); and the tests of what holds across nodes over
// an embedded NATS server: revocations and per-user connection limits
// (cluster_test.go), presence and signals (presence_test.go). The package
// has no code of its own.
package multinode
