// Package sqlrows turns the rows of a model table into the records and
// pages of the [ssotws.Store] contract, for the SQLite and PostgreSQL
// stores. It stands apart from sqlschema so that the migrate command, which
// derives tables, does not link the server runtime.
package sqlrows

import (
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// Record builds the record of key from a row's version and JSON image.
func Record(t *sqlschema.Table, key string, version int64, image []byte, deleted bool) (*ssotws.Record, error) {
	msg, err := t.Decode(image)
	if err != nil {
		return nil, err
	}
	data, err := sqlschema.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return &ssotws.Record{Key: key, Version: version, Data: data, Fields: t.ModelOf().FieldValues(msg), Deleted: deleted}, nil
}

// ReadPage reads the rows of a [sqlschema.Table.ListQuery] made with a limit of
// size+1: at most size records, and the next page's token when there are
// more. The caller closes rows.
func ReadPage(t *sqlschema.Table, rows sqlschema.Rows, size int) (*ssotws.Page, error) {
	page := &ssotws.Page{}
	var last int64
	for rows.Next() {
		if len(page.Records) == size {
			page.NextPageToken = ssotws.FormatPageToken(last)
			break
		}
		var (
			key     string
			version int64
			image   []byte
		)
		if err := rows.Scan(&last, &key, &version, &image); err != nil {
			return nil, err
		}
		rec, err := Record(t, key, version, image, false)
		if err != nil {
			return nil, err
		}
		page.Records = append(page.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return page, nil
}
