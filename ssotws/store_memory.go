package ssotws

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
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
	var after int64
	if q.PageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.PageToken)
		if err == nil {
			after, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil || after < 0 {
			return nil, ErrInvalidPageToken
		}
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
			page.NextPageToken = base64.RawURLEncoding.EncodeToString(
				[]byte(strconv.FormatInt(m.records[last.Key].created, 10)))
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

// Apply implements [Store].
func (s *MemoryStore) Apply(ctx context.Context, w *Write) (*WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reqKey := ""
	if w.RequestID != "" {
		reqKey = w.Model + "\x00" + w.RequestID
		if prev, ok := s.requests[reqKey]; ok {
			res := *prev
			res.Replayed = true
			return &res, nil
		}
	}
	m := s.model(w.Model)
	cur := m.records[w.Key]
	live := cur != nil && !cur.rec.Deleted
	if w.IfVersion == IfAbsent {
		if live {
			return nil, fmt.Errorf("%w: %q is at version %d, not absent", ErrVersionConflict, w.Key, versionOf(cur))
		}
	} else if w.IfVersion != 0 && (!live || cur.rec.Version != w.IfVersion) {
		if !live && w.Kind != WriteCreate {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, w.Key)
		}
		return nil, fmt.Errorf("%w: %q is at version %d, not %d", ErrVersionConflict, w.Key, versionOf(cur), w.IfVersion)
	}
	res := &WriteResult{}
	switch w.Kind {
	case WriteCreate:
		if live {
			return nil, fmt.Errorf("%w: %q", ErrAlreadyExists, w.Key)
		}
		m.seq++
		r := &memRecord{created: m.seq, rec: Record{Key: w.Key, Version: versionOf(cur) + 1, Data: w.Data, Fields: w.Fields}}
		if cur != nil {
			m.order = removeRecord(m.order, cur)
		}
		m.records[w.Key] = r
		m.order = append(m.order, r)
		res.Record = cloneRecord(&r.rec)
	case WriteUpdate:
		if !live {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, w.Key)
		}
		res.Previous = cloneRecord(&cur.rec)
		cur.rec = Record{Key: w.Key, Version: cur.rec.Version + 1, Data: w.Data, Fields: w.Fields}
		res.Record = cloneRecord(&cur.rec)
	case WriteDelete:
		if !live {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, w.Key)
		}
		res.Previous = cloneRecord(&cur.rec)
		cur.rec.Version++
		cur.rec.Deleted = true
		if w.Data != nil {
			cur.rec.Data = w.Data
		}
		res.Record = cloneRecord(&cur.rec)
	default:
		return nil, fmt.Errorf("ssotws: unknown write kind %d", w.Kind)
	}
	if reqKey != "" {
		s.requests[reqKey] = res
		s.requestOrder = append(s.requestOrder, reqKey)
		if len(s.requestOrder) > s.maxRequests {
			delete(s.requests, s.requestOrder[0])
			s.requestOrder = s.requestOrder[1:]
		}
	}
	out := *res
	return &out, nil
}

func versionOf(r *memRecord) int64 {
	if r == nil {
		return 0
	}
	return r.rec.Version
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
