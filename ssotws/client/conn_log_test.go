package client

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseMeanings holds closeMeaning to the table the TS client's tests
// read too (ts/test/conn_log.test.ts): both clients say the same words.
func TestCloseMeanings(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/close-meanings.json")
	require.NoError(t, err)
	var table struct {
		Closes []struct {
			Code    int    `json:"code"`
			Meaning string `json:"meaning"`
		} `json:"closes"`
	}
	require.NoError(t, json.Unmarshal(raw, &table))
	require.NotEmpty(t, table.Closes)
	for _, c := range table.Closes {
		assert.Equal(t, c.Meaning, closeMeaning(c.Code), "close code %d", c.Code)
	}
}
