package protocol

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

// FormatScalar returns the canonical text form of a scalar value, as
// channel names and filters carry it: strings as they are, integers and
// enum numbers in decimal, bools as true or false. It is [FormatValue] for
// a Go value rather than a protoreflect one.
func FormatScalar[V ScalarType](v V) string {
	return formatScalar(reflect.ValueOf(v))
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
