// Package testkit holds test pieces that more than one package uses: a TCP
// proxy that cuts connections and the record-for-record comparison of a
// client's cache with the store (the convergence tests), and a drive of the
// generated chat service over HTTP against a persistent store (the SQL
// stores' tests). It is test support, imported only by tests.
package testkit
