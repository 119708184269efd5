package sqlschema

// Copied counts what a copy from the single-table layout (the layout of
// sqlitestore.Open and pgstore.Open before the tables) wrote.
type Copied struct {
	Records    int // live records, now rows of their model's table
	Tombstones int // deleted records, now rows of ssotws_tombstones
	Requests   int // remembered results of writes with a request id
	Sequences  int // models whose NextSequence counter was carried over
}
