// Package testkit holds the pieces of the fault-injection convergence tests
// that more than one package uses: a TCP proxy that cuts connections, and
// the record-for-record comparison of a client's cache with the store. It
// is test support, imported only by tests.
package testkit
