package ssotws_test

import (
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/brokertest"
)

// TestMemoryBrokerConformance runs the broker conformance suite against the
// reference broker; ssotws/natsbroker runs the same suite.
func TestMemoryBrokerConformance(t *testing.T) {
	brokertest.Run(t, func(t *testing.T, historySize int) ssotws.Broker {
		b := ssotws.NewMemoryBroker(&ssotws.MemoryBrokerOptions{HistorySize: historySize})
		t.Cleanup(func() { b.Close() })
		return b
	})
}
