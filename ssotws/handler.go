package ssotws

import "reflect"

// Helpers for generated handlers and channel constructors.

// RequestKey returns the text form of a key taken from a request field.
// The zero value, which proto3 cannot tell from an unset field, gives "",
// so that a [Resource] reports the key as required rather than looking up
// key "0".
func RequestKey[K KeyType](k K) string {
	var zero K
	if k == zero {
		return ""
	}
	return FormatKey(k)
}

// FormatScalar returns the canonical text form of a scalar value, as
// channel names and filters carry it: strings as they are, integers and
// enum numbers in decimal, bools as true or false.
func FormatScalar[V ScalarType](v V) string {
	return formatScalar(reflect.ValueOf(v))
}
