package ssotws

// Eq returns a filter that keeps records whose field equals v. A zero v
// means "no filter", as proto3 cannot tell it from an unset field; the
// returned Filter then has an empty Field and matches everything.
func Eq[V ScalarType](field string, v V) Filter {
	var zero V
	if v == zero {
		return Filter{}
	}
	return Filter{Field: field, Value: FormatScalar(v)}
}

// EqOptional is like [Eq] for a proto3 optional field: nil means no filter,
// and a pointer to a zero value filters on the zero value.
func EqOptional[V ScalarType](field string, v *V) Filter {
	if v == nil {
		return Filter{}
	}
	return Filter{Field: field, Value: FormatScalar(*v)}
}
