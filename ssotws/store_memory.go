package ssotws

import (
	"context"
	"errors"
	"sync"
)

// MemoryStore is a [Store] that keeps everything in memory: for tests,
// demos and single-process examples. It is safe for concurrent use.
type MemoryStore struct {
	mu     sync.RWMutex
	models map[string]*memModel
	// requests remembers results by model and request id, bounded.
	requests     map[string]*WriteResult
	requestOrder []string
	maxRequests  int
}

type memModel struct {
	seq     int64 // creation counter, orders List
	keySeq  int64 // NextSequence
	records map[string]*memRecord
	order   []*memRecord // by creation, tombstones kept until compaction
}

type memRecord struct {
	rec     Record
	created int64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store. It remembers the results of the
// last 100,000 requests with an id, for idempotency.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		models:      make(map[string]*memModel),
		requests:    make(map[string]*WriteResult),
		maxRequests: DefaultMaxRequests,
	}
}

func (s *MemoryStore) model(name string) *memModel {
	m := s.models[name]
	if m == nil {
		m = &memModel{records: make(map[string]*memRecord)}
		s.models[name] = m
	}
	return m
}

// Get implements [Store].
func (s *MemoryStore) Get(ctx context.Context, model, key string) (*Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.models[model]
	if m == nil {
		return nil, ErrNotFound
	}
	r := m.records[key]
	if r == nil || r.rec.Deleted {
		return nil, ErrNotFound
	}
	return cloneRecord(&r.rec), nil
}

// List implements [Store].
func (s *MemoryStore) List(ctx context.Context, q Query) (*Page, error) {
	after, err := ParsePageToken(q.PageToken)
	if err != nil {
		return nil, err
	}
	size := q.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	page := &Page{}
	m := s.models[q.Model]
	if m == nil {
		return page, nil
	}
	for _, r := range m.order {
		if r.created <= after || r.rec.Deleted || !Match(r.rec.Fields, q.Filters) {
			continue
		}
		if len(page.Records) == size {
			last := page.Records[len(page.Records)-1]
			page.NextPageToken = FormatPageToken(m.records[last.Key].created)
			break
		}
		page.Records = append(page.Records, cloneRecord(&r.rec))
	}
	return page, nil
}

// NextSequence implements [Store].
func (s *MemoryStore) NextSequence(ctx context.Context, model string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.model(model)
	m.keySeq++
	return m.keySeq, nil
}

// Apply implements [Store]: it persists the [PlanWrite] of w.
func (s *MemoryStore) Apply(ctx context.Context, w *Write) (*WriteResult, error) {
	res, err := s.ApplyBatch(ctx, []*Write{w})
	if err != nil {
		var be *BatchError
		if errors.As(err, &be) {
			return nil, be.Err
		}
		return nil, err
	}
	return res[0], nil
}

// ApplyBatch implements [Store]: it plans every write against the records
// as the writes before it leave them, and persists the plans only when
// all of them succeeded.
func (s *MemoryStore) ApplyBatch(ctx context.Context, ws []*Write) ([]*WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The state the batch's earlier writes leave, by model and key, and
	// the request results they remember.
	var (
		staged     map[string]*Record
		stagedReqs map[string]*WriteResult
	)
	if len(ws) > 1 { // a single write needs no staging
		staged, stagedReqs = make(map[string]*Record), make(map[string]*WriteResult)
	}
	plans := make([]WritePlan, len(ws))
	for i, w := range ws {
		reqKey := w.Model + "\x00" + w.RequestID
		var remembered *WriteResult
		if w.RequestID != "" {
			if remembered = stagedReqs[reqKey]; remembered == nil {
				remembered = s.requests[reqKey]
			}
		}
		recKey := w.Model + "\x00" + w.Key
		current, ok := staged[recKey]
		if !ok {
			if m := s.models[w.Model]; m != nil && m.records[w.Key] != nil {
				current = &m.records[w.Key].rec
			}
		}
		plan, err := PlanWrite(w, remembered, current)
		if err != nil {
			return nil, AtIndex(i, err)
		}
		plans[i] = plan
		if staged == nil {
			continue
		}
		if plan.Step != StepReplay {
			staged[recKey] = plan.Result.Record
		}
		if plan.Remember {
			stagedReqs[reqKey] = plan.Result
		}
	}
	out := make([]*WriteResult, len(ws))
	for i, w := range ws {
		s.persist(w, plans[i])
		res := *plans[i].Result
		out[i] = &res
	}
	return out, nil
}

// persist writes a plan; s.mu must be held.
func (s *MemoryStore) persist(w *Write, plan WritePlan) {
	res := plan.Result
	m := s.model(w.Model)
	cur := m.records[w.Key]
	switch plan.Step {
	case StepReplay:
		return
	case StepInsert, StepRecreate:
		m.seq++
		r := &memRecord{created: m.seq, rec: *res.Record}
		if cur != nil {
			m.order = removeRecord(m.order, cur)
		}
		m.records[w.Key] = r
		m.order = append(m.order, r)
	case StepUpdate, StepDelete:
		cur.rec = *res.Record
	}
	if plan.Remember {
		reqKey := w.Model + "\x00" + w.RequestID
		s.requests[reqKey] = res
		s.requestOrder = append(s.requestOrder, reqKey)
		if len(s.requestOrder) > s.maxRequests {
			delete(s.requests, s.requestOrder[0])
			s.requestOrder = s.requestOrder[1:]
		}
	}
}

func removeRecord(order []*memRecord, r *memRecord) []*memRecord {
	for i, x := range order {
		if x == r {
			return append(order[:i:i], order[i+1:]...)
		}
	}
	return order
}

func cloneRecord(r *Record) *Record {
	c := *r
	return &c
}
