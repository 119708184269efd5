package ssotws

import (
	"reflect"
	"strconv"
)

// KeyType lists the Go types of key fields.
type KeyType interface {
	~string | ~int32 | ~int64 | ~uint32 | ~uint64
}

// ScalarType lists the Go types of fields that can be filtered on.
type ScalarType interface {
	~string | ~bool | ~int32 | ~int64 | ~uint32 | ~uint64
}

// FormatKey returns the canonical text form of a key: the string itself,
// or the integer in decimal.
func FormatKey[K KeyType](k K) string {
	return formatScalar(reflect.ValueOf(k))
}

// Eq returns a filter that keeps records whose field equals v. A zero v
// means "no filter", as proto3 cannot tell it from an unset field; the
// returned Filter then has an empty Field and matches everything.
func Eq[V ScalarType](field string, v V) Filter {
	rv := reflect.ValueOf(v)
	if rv.IsZero() {
		return Filter{}
	}
	return Filter{Field: field, Value: formatScalar(rv)}
}

// EqOptional is like [Eq] for a proto3 optional field: nil means no filter,
// and a pointer to a zero value filters on the zero value.
func EqOptional[V ScalarType](field string, v *V) Filter {
	if v == nil {
		return Filter{}
	}
	return Filter{Field: field, Value: formatScalar(reflect.ValueOf(*v))}
}

func formatScalar(rv reflect.Value) string {
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Int32, reflect.Int64, reflect.Int:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		return strconv.FormatUint(rv.Uint(), 10)
	}
	return ""
}
