package pgstore

import (
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ssotws.Store {
		return openStore(t, newSchema(t), nil)
	})
}
