package ssotws_test

import (
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
)

// TestMemoryStoreConformance runs the store conformance suite against the
// reference store; ssotws/sqlitestore runs the same suite.
func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ssotws.Store { return ssotws.NewMemoryStore() })
}

// TestMemoryStoreConformanceTables runs the suite's table form (records as
// messages of a schema) against the reference store, which checks the
// form itself.
func TestMemoryStoreConformanceTables(t *testing.T) {
	storetest.RunTables(t, func(t *testing.T, _ []*ssotws.Model) ssotws.Store { return ssotws.NewMemoryStore() })
}
