package ssotws

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
