package gen

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBadRedaction: a field's read option is checked where it is written.
func TestBadRedaction(t *testing.T) {
	tests := []struct {
		name  string
		proto string
		want  string
	}{
		{
			name: "owner redaction without an owner",
			proto: `message Thing { option (ssot.ws.v1.model) = {};
  string id = 1;
  string email = 2 [(ssot.ws.v1.field).read = OWNER];
}`,
			want: `bad/v1/bad.proto:8:3: bad.v1.Thing.email: field read: OWNER needs an owner field on Thing; set owner in its model option to the string field holding the owner's identity`,
		},
		{
			name: "redacted key",
			proto: `message Thing { option (ssot.ws.v1.model) = {owner: "user"};
  string id = 1 [(ssot.ws.v1.field).read = AUTHENTICATED];
  string user = 2;
}`,
			want: `bad/v1/bad.proto:7:3: bad.v1.Thing.id: field read: id is the key of Thing, which names records and channels; it cannot be redacted`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, generateErr(t, header+tt.proto, ""))
		})
	}
}
