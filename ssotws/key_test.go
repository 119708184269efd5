package ssotws

import (
	"testing"

	intkeyv1 "github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1"
	"github.com/stretchr/testify/assert"
)

func TestEqFilters(t *testing.T) {
	assert.Equal(t, Filter{Field: "status", Value: "1"}, Eq("status", intkeyv1.Status_STATUS_OPEN), "Eq on an enum filters on its number")
	assert.Equal(t, Filter{}, Eq("room_id", ""), "Eq on a zero value is no filter")
	zero := int32(0)
	assert.Equal(t, Filter{Field: "queue_id", Value: "0"}, EqOptional("queue_id", &zero), "EqOptional on a set zero")
	assert.Equal(t, Filter{}, EqOptional[int32]("queue_id", nil))
}
