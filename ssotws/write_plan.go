package ssotws

import "fmt"

// WriteStep is what a planned [Write] does to the stored row of its key.
type WriteStep int

// The steps of a write.
const (
	// StepReplay writes nothing: the write repeats an earlier request,
	// whose remembered result is the answer.
	StepReplay WriteStep = iota + 1
	// StepInsert adds a row for a key that has none (a Create).
	StepInsert
	// StepRecreate makes a tombstone live again (a Create of a deleted
	// key): its version goes on growing, and the record takes a new place
	// at the end of the creation order.
	StepRecreate
	// StepUpdate gives the live row its new state.
	StepUpdate
	// StepDelete turns the live row into a tombstone.
	StepDelete
)

// WritePlan is what a [Write] does, decided before anything is written.
type WritePlan struct {
	Step WriteStep
	// Result is what [Store].Apply returns once the plan is persisted. For
	// StepReplay it is the remembered result with Replayed set. Otherwise
	// Result.Record is the row's new state, to be stored as it is (after a
	// delete, a tombstone holding the last data and fields), and
	// Result.Previous the row's state before (nil for a create).
	Result *WriteResult
	// Remember asks the store to remember Result under the write's
	// RequestID, in the write's transaction, for later replays.
	Remember bool
}

// PlanWrite decides what w does, by the rules every [Store] follows. It
// is pure: a store calls it inside the transaction that applies w, then
// persists the plan and nothing else.
//
// remembered is the result the store remembers for w's RequestID (nil
// when w has none or none is remembered). current is the stored row of
// w's key, live or tombstone (nil when there is none); it is not looked at
// when remembered is set, so a store may skip reading it then.
//
// The rules: a remembered request is replayed. Otherwise w.IfVersion is
// checked first ([IfAbsent]: no live record; another non-zero value: the
// live record's version, and an Update or Delete of no live record fails
// with [ErrNotFound]), failing with [ErrVersionConflict]. Then a Create
// fails with [ErrAlreadyExists] over a live record, an Update or Delete
// with [ErrNotFound] without one. Every write adds one to the key's
// version, tombstones included; a Delete keeps the record's last data
// and fields, or takes w.Data when set.
func PlanWrite(w *Write, remembered *WriteResult, current *Record) (WritePlan, error) {
	switch w.Kind {
	case WriteCreate, WriteUpdate, WriteDelete:
	default:
		return WritePlan{}, fmt.Errorf("ssotws: unknown write kind %d", w.Kind)
	}
	if remembered != nil {
		res := *remembered
		res.Replayed = true
		return WritePlan{Step: StepReplay, Result: &res}, nil
	}
	live := current != nil && !current.Deleted
	var version int64 // of the row, live or tombstone
	if current != nil {
		version = current.Version
	}
	if w.IfVersion == IfAbsent {
		// A delete or update of a record the caller found absent: one
		// created since is not the caller's to change.
		if live {
			return WritePlan{}, fmt.Errorf("%w: %q is at version %d, not absent", ErrVersionConflict, w.Key, version)
		}
	} else if w.IfVersion != 0 && (!live || version != w.IfVersion) {
		if !live && w.Kind != WriteCreate {
			return WritePlan{}, fmt.Errorf("%w: %q", ErrNotFound, w.Key)
		}
		return WritePlan{}, fmt.Errorf("%w: %q is at version %d, not %d", ErrVersionConflict, w.Key, version, w.IfVersion)
	}
	plan := WritePlan{Result: &WriteResult{}, Remember: w.RequestID != ""}
	next := &Record{Key: w.Key, Version: version + 1, Data: w.Data, Fields: w.Fields}
	switch w.Kind {
	case WriteCreate:
		if live {
			return WritePlan{}, fmt.Errorf("%w: %q", ErrAlreadyExists, w.Key)
		}
		plan.Step = StepInsert
		if current != nil {
			plan.Step = StepRecreate
		}
	case WriteUpdate, WriteDelete:
		if !live {
			return WritePlan{}, fmt.Errorf("%w: %q", ErrNotFound, w.Key)
		}
		prev := *current
		prev.Key = w.Key
		plan.Result.Previous = &prev
		plan.Step = StepUpdate
		if w.Kind == WriteDelete {
			plan.Step = StepDelete
			next.Data, next.Fields, next.Deleted = current.Data, current.Fields, true
			if w.Data != nil {
				next.Data = w.Data
			}
		}
	}
	plan.Result.Record = next
	return plan, nil
}
