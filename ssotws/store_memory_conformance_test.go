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
