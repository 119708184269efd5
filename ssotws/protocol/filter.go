package protocol

// Filter is an equality test on one field's text form (see [FormatValue]):
// what a List request's filter fields become, and what stores and their SQL
// compare.
type Filter struct {
	Field string
	Value string
}
