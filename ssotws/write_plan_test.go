package ssotws

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanWrite(t *testing.T) {
	fields := map[string]string{"room": "r1"}
	live := &Record{Key: "k", Version: 3, Data: []byte("old"), Fields: fields}
	tomb := &Record{Key: "k", Version: 4, Data: []byte("last"), Fields: fields, Deleted: true}
	remembered := &WriteResult{Record: &Record{Key: "gen", Version: 1, Data: []byte("first")}}
	newFields := map[string]string{"room": "r2"}

	for _, c := range []struct {
		name       string
		w          Write
		remembered *WriteResult
		current    *Record
		want       WritePlan
		err        error  // errors.Is
		text       string // the whole error message
	}{
		{
			name: "create new key",
			w:    Write{Kind: WriteCreate, Key: "k", Data: []byte("new"), Fields: newFields},
			want: WritePlan{Step: StepInsert, Result: &WriteResult{
				Record: &Record{Key: "k", Version: 1, Data: []byte("new"), Fields: newFields},
			}},
		},
		{
			name:    "create over a tombstone goes on with its version",
			w:       Write{Kind: WriteCreate, Key: "k", Data: []byte("new"), RequestID: "r"},
			current: tomb,
			want: WritePlan{Step: StepRecreate, Remember: true, Result: &WriteResult{
				Record: &Record{Key: "k", Version: 5, Data: []byte("new")},
			}},
		},
		{
			name: "create over a live record", w: Write{Kind: WriteCreate, Key: "k"}, current: live,
			err: ErrAlreadyExists, text: ErrAlreadyExists.Error() + `: "k"`,
		},
		{
			name:    "update",
			w:       Write{Kind: WriteUpdate, Key: "k", Data: []byte("new"), Fields: newFields},
			current: live,
			want: WritePlan{Step: StepUpdate, Result: &WriteResult{
				Record:   &Record{Key: "k", Version: 4, Data: []byte("new"), Fields: newFields},
				Previous: live,
			}},
		},
		{
			name: "update of no record", w: Write{Kind: WriteUpdate, Key: "k"},
			err: ErrNotFound, text: ErrNotFound.Error() + `: "k"`,
		},
		{
			name: "update of a tombstone", w: Write{Kind: WriteUpdate, Key: "k"}, current: tomb,
			err: ErrNotFound, text: ErrNotFound.Error() + `: "k"`,
		},
		{
			name:    "delete keeps the last data and fields",
			w:       Write{Kind: WriteDelete, Key: "k"},
			current: live,
			want: WritePlan{Step: StepDelete, Result: &WriteResult{
				Record:   &Record{Key: "k", Version: 4, Data: []byte("old"), Fields: fields, Deleted: true},
				Previous: live,
			}},
		},
		{
			name:    "delete with data",
			w:       Write{Kind: WriteDelete, Key: "k", Data: []byte("gone")},
			current: live,
			want: WritePlan{Step: StepDelete, Result: &WriteResult{
				Record:   &Record{Key: "k", Version: 4, Data: []byte("gone"), Fields: fields, Deleted: true},
				Previous: live,
			}},
		},
		{
			name: "delete of a tombstone", w: Write{Kind: WriteDelete, Key: "k"}, current: tomb,
			err: ErrNotFound, text: ErrNotFound.Error() + `: "k"`,
		},
		{
			name: "if version matches", w: Write{Kind: WriteUpdate, Key: "k", IfVersion: 3}, current: live,
			want: WritePlan{Step: StepUpdate, Result: &WriteResult{
				Record: &Record{Key: "k", Version: 4}, Previous: live,
			}},
		},
		{
			name: "if version differs", w: Write{Kind: WriteUpdate, Key: "k", IfVersion: 2}, current: live,
			err: ErrVersionConflict, text: ErrVersionConflict.Error() + `: "k" is at version 3, not 2`,
		},
		{
			name: "if version of no record", w: Write{Kind: WriteDelete, Key: "k", IfVersion: 2},
			err: ErrNotFound, text: ErrNotFound.Error() + `: "k"`,
		},
		{
			name: "create if version of a tombstone", w: Write{Kind: WriteCreate, Key: "k", IfVersion: 4}, current: tomb,
			err: ErrVersionConflict, text: ErrVersionConflict.Error() + `: "k" is at version 4, not 4`,
		},
		{
			name: "if absent and absent", w: Write{Kind: WriteDelete, Key: "k", IfVersion: IfAbsent}, current: tomb,
			err: ErrNotFound, text: ErrNotFound.Error() + `: "k"`,
		},
		{
			name: "if absent but live", w: Write{Kind: WriteDelete, Key: "k", IfVersion: IfAbsent}, current: live,
			err: ErrVersionConflict, text: ErrVersionConflict.Error() + `: "k" is at version 3, not absent`,
		},
		{
			name:       "a remembered request is replayed, whatever the record",
			w:          Write{Kind: WriteCreate, Key: "other", IfVersion: IfAbsent, RequestID: "r"},
			remembered: remembered,
			current:    live,
			want: WritePlan{Step: StepReplay, Result: &WriteResult{
				Record: remembered.Record, Replayed: true,
			}},
		},
		{
			name: "unknown kind", w: Write{Kind: 99, Key: "k"}, remembered: remembered,
			text: "ssotws: unknown write kind 99",
		},
		{
			name: "kind zero", w: Write{Key: "k"},
			text: "ssotws: unknown write kind 0",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PlanWrite(&c.w, c.remembered, c.current)
			if c.text != "" {
				require.Error(t, err)
				assert.EqualError(t, err, c.text)
				if c.err != nil {
					assert.ErrorIs(t, err, c.err)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// TestPlanWriteLeavesItsInputs: a plan never changes the records it was
// given, which the memory store keeps and hands out.
func TestPlanWriteLeavesItsInputs(t *testing.T) {
	cur := &Record{Key: "k", Version: 3, Data: []byte("old"), Fields: map[string]string{"a": "1"}}
	before := *cur
	rem := &WriteResult{Record: cur}
	for _, w := range []Write{
		{Kind: WriteUpdate, Key: "k", Data: []byte("new")},
		{Kind: WriteDelete, Key: "k", Data: []byte("gone")},
	} {
		plan, err := PlanWrite(&w, nil, cur)
		require.NoError(t, err)
		assert.NotSame(t, cur, plan.Result.Previous)
		assert.NotSame(t, cur, plan.Result.Record)
	}
	plan, err := PlanWrite(&Write{Kind: WriteCreate, Key: "k", RequestID: "r"}, rem, nil)
	require.NoError(t, err)
	assert.NotSame(t, rem, plan.Result)
	assert.False(t, rem.Replayed)
	assert.Equal(t, before, *cur)
}
