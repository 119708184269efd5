package ssotws

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"go.einride.tech/aip/filtering"
	"go.einride.tech/aip/ordering"
	expr "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AIP-160 filters and AIP-132 orderings of List, parsed and type-checked
// with einride's packages against the model's top-level scalar fields,
// and applied by the Resource to the records the store's indexed query
// (scope, parent, owner and equality filters) returns.

// MaxFilteredRecords bounds how many records a List with a filter or an
// order_by reads from the store to filter and sort them: over it, the List
// fails with FailedPrecondition, and the caller narrows it (a parent, a
// scope, an equality filter), which the store answers from an index.
const MaxFilteredRecords = 10_000

// listQuery is a List's parsed filter and ordering.
type listQuery struct {
	filter *expr.Expr // nil: every record
	order  ordering.OrderBy
	// sum identifies the query, so that a page token of another one is
	// refused.
	sum string
}

// parseListQuery parses req's filter and order_by; nil when it has
// neither. A bad one is InvalidArgument, with the parser's position.
func (r *Resource[T]) parseListQuery(req ListRequest) (*listQuery, error) {
	if req.Filter == "" && req.OrderBy == "" {
		return nil, nil
	}
	lq := &listQuery{}
	fields := filterableFields(r.model.Descriptor())
	if req.Filter != "" {
		decls, err := filtering.NewDeclarations(append([]filtering.DeclarationOption{filtering.DeclareStandardFunctions()},
			filtering.DeclareProtoMessageIdents(r.newT(), filtering.WithFilterableFields(fields...))...)...)
		if err != nil {
			return nil, invalidArgument("filter: %v", err)
		}
		f, err := filtering.ParseFilterString(req.Filter, decls)
		if err != nil {
			return nil, invalidArgument("filter %q: %s", req.Filter, filterProblem(err))
		}
		lq.filter = f.CheckedExpr.GetExpr()
		if err := checkSupported(lq.filter); err != nil {
			return nil, invalidArgument("filter: %v", err)
		}
	}
	if err := lq.order.UnmarshalString(req.OrderBy); err != nil {
		return nil, invalidArgument("order_by: %v", err)
	}
	if err := lq.order.ValidateForPaths(fields...); err != nil {
		return nil, invalidArgument("order_by: %v; order by a top-level field of %s", err, r.model.FullName())
	}
	h := fnv.New64a()
	h.Write([]byte(req.Filter + "\x00" + req.OrderBy))
	lq.sum = strconv.FormatUint(h.Sum64(), 36)
	return lq, nil
}

// filterError is what einride's lexer and parser errors offer.
type filterError interface {
	Position() filtering.Position
	Message() string
}

// filterProblem says where a filter stops parsing: the innermost
// position, the grammar element expected there and the cause ("1:8:
// expected a parse token: EOF"), or the type checker's message.
func filterProblem(err error) string {
	var at filterError
	var cause error = err
	for e := err; e != nil; e = errors.Unwrap(e) {
		if fe, ok := e.(filterError); ok {
			at, cause = fe, errors.Unwrap(e)
		}
	}
	if at == nil {
		return err.Error()
	}
	msg := at.Position().String() + ": expected a " + at.Message()
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return msg
}

// filterableFields names the fields a filter or an ordering may name:
// the top-level singular strings, numbers, bools and enums.
func filterableFields(d protoreflect.MessageDescriptor) []string {
	var out []string
	for i := 0; i < d.Fields().Len(); i++ {
		fd := d.Fields().Get(i)
		if fd.IsList() || fd.IsMap() || fd.Message() != nil || fd.Kind() == protoreflect.BytesKind {
			continue
		}
		out = append(out, string(fd.Name()))
	}
	return out
}

var supportedFunctions = map[string]bool{
	filtering.FunctionAnd: true, filtering.FunctionFuzzyAnd: true, filtering.FunctionOr: true, filtering.FunctionNot: true,
	filtering.FunctionEquals: true, filtering.FunctionNotEquals: true,
	filtering.FunctionLessThan: true, filtering.FunctionLessEquals: true,
	filtering.FunctionGreaterThan: true, filtering.FunctionGreaterEquals: true,
}

// checkSupported refuses what the evaluator does not apply: the has
// operator, timestamps, durations, fields of messages.
func checkSupported(e *expr.Expr) error {
	var err error
	filtering.Walk(func(cur, _ *expr.Expr) bool {
		switch k := cur.GetExprKind().(type) {
		case *expr.Expr_CallExpr:
			if !supportedFunctions[k.CallExpr.GetFunction()] && err == nil {
				err = fmt.Errorf("%q is not supported; use comparisons (= != < <= > >=) combined with AND, OR and NOT", k.CallExpr.GetFunction())
			}
		case *expr.Expr_SelectExpr:
			if err == nil {
				err = fmt.Errorf("field paths are not supported; name a top-level field")
			}
		}
		return err == nil
	}, e)
	return err
}

// matches evaluates a checked filter on m.
func matches(e *expr.Expr, m protoreflect.Message) bool {
	call := e.GetCallExpr()
	args := call.GetArgs()
	switch call.GetFunction() {
	case filtering.FunctionAnd, filtering.FunctionFuzzyAnd:
		return matches(args[0], m) && matches(args[1], m)
	case filtering.FunctionOr:
		return matches(args[0], m) || matches(args[1], m)
	case filtering.FunctionNot:
		return !matches(args[0], m)
	}
	enum := enumOf(args[0], m)
	if enum == nil {
		enum = enumOf(args[1], m)
	}
	c, ok := compareValues(value(args[0], m, enum), value(args[1], m, enum))
	if !ok {
		return false
	}
	switch call.GetFunction() {
	case filtering.FunctionEquals:
		return c == 0
	case filtering.FunctionNotEquals:
		return c != 0
	case filtering.FunctionLessThan:
		return c < 0
	case filtering.FunctionLessEquals:
		return c <= 0
	case filtering.FunctionGreaterThan:
		return c > 0
	case filtering.FunctionGreaterEquals:
		return c >= 0
	}
	return false
}

// enumOf returns the enum of the field operand e names, or nil.
func enumOf(e *expr.Expr, m protoreflect.Message) protoreflect.EnumDescriptor {
	if id := e.GetIdentExpr(); id != nil {
		if fd := m.Descriptor().Fields().ByName(protoreflect.Name(id.GetName())); fd != nil {
			return fd.Enum()
		}
	}
	return nil
}

// value is an operand's value: a field of m, or a constant. Compared with
// an enum field, a name is the number of that enum's value (the checker
// admitted it).
func value(e *expr.Expr, m protoreflect.Message, enum protoreflect.EnumDescriptor) any {
	name := ""
	if id := e.GetIdentExpr(); id != nil {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(id.GetName()))
		if fd != nil {
			return fieldValue(fd, m.Get(fd))
		}
		name = id.GetName()
	} else if s, ok := e.GetConstExpr().GetConstantKind().(*expr.Constant_StringValue); ok {
		name = s.StringValue
	}
	if name != "" || e.GetIdentExpr() != nil {
		if enum != nil {
			if ev := enum.Values().ByName(protoreflect.Name(name)); ev != nil {
				return float64(ev.Number())
			}
		}
		return name
	}
	c := e.GetConstExpr()
	switch k := c.GetConstantKind().(type) {
	case *expr.Constant_Int64Value:
		return float64(k.Int64Value)
	case *expr.Constant_Uint64Value:
		return float64(k.Uint64Value)
	case *expr.Constant_DoubleValue:
		return k.DoubleValue
	case *expr.Constant_BoolValue:
		return k.BoolValue
	}
	return nil
}

// fieldValue is a scalar field's value as value compares it: numbers,
// enum numbers among them, as float64.
func fieldValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.EnumKind:
		return float64(v.Enum())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return float64(v.Uint())
	}
	return float64(v.Int())
}

// compareValues orders two values of one type; ok is false for values
// that do not compare.
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	case float64:
		y, ok := b.(float64)
		return cmp.Compare(x, y), ok
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		}
		return 1, true
	}
	return 0, false
}

// listFiltered serves a List with a filter or an order_by: it reads the
// records matching q (at most MaxFilteredRecords), keeps those lq's
// filter and the read checks admit, sorts them by lq's ordering (creation
// order among equals) and returns the page req's token points at.
func (r *Resource[T]) listFiltered(ctx context.Context, id *Identity, q Query, lq *listQuery, pos ReadPosition) (*ListResult[T], error) {
	offset, err := parseOffsetToken(q.PageToken, lq.sum)
	if err != nil {
		return nil, err
	}
	size := q.PageSize
	var items []T
	scan := Query{Model: q.Model, Filters: q.Filters, PageSize: 1000}
	for read := 0; ; {
		page, err := r.store.List(ctx, scan)
		if err != nil {
			return nil, codeOf(err)
		}
		if read += len(page.Records); read > MaxFilteredRecords {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("ssotws: filter and order_by read at most %d records of %s; narrow the List by its parent or an equality filter", MaxFilteredRecords, r.model.FullName()))
		}
		for _, rec := range page.Records {
			msg, err := r.decode(rec)
			if err != nil {
				return nil, err
			}
			pm := msg.ProtoReflect()
			if lq.filter != nil && !matches(lq.filter, pm) || r.checkRecord(ctx, ViaList, id, pm) != nil {
				continue
			}
			items = append(items, msg)
		}
		if page.NextPageToken == "" {
			break
		}
		scan.PageToken = page.NextPageToken
	}
	if len(lq.order.Fields) > 0 {
		desc := r.model.Descriptor().Fields()
		slices.SortStableFunc(items, func(a, b T) int {
			for _, f := range lq.order.Fields {
				fd := desc.ByName(protoreflect.Name(f.Path))
				c, _ := compareValues(fieldValue(fd, a.ProtoReflect().Get(fd)), fieldValue(fd, b.ProtoReflect().Get(fd)))
				if f.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	res := &ListResult[T]{Position: pos}
	if offset < len(items) {
		end := min(offset+size, len(items))
		res.Items = items[offset:end]
		if end < len(items) {
			res.NextPageToken = formatOffsetToken(end, lq.sum)
		}
	}
	if res.Items == nil {
		res.Items = []T{}
	}
	return res, nil
}

// The page token of a filtered List: the offset into the filtered and
// sorted records, and the query's sum.
func formatOffsetToken(offset int, sum string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset) + "." + sum))
}

func parseOffsetToken(token, sum string) (int, error) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	s, ok := strings.CutSuffix(string(b), "."+sum)
	if err != nil || !ok || !strings.HasPrefix(s, "o") {
		return 0, invalidArgument("page_token is not a token of this List's filter and order_by")
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 0 {
		return 0, invalidArgument("page_token is not a token of this List's filter and order_by")
	}
	return n, nil
}
