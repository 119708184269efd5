// Package multinode holds the multi-node fault-injection convergence test:
// two chat nodes (each its own process, broker, gateway and Connect
// handlers) over one SQLite store and one JetStream stream, clients and
// writers behind cutting proxies, and a node restart that clients resume
// from. See multinode_test.go; the package has no code of its own.
package multinode
