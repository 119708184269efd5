package sqlitestore

import "github.com/ssot-codegen/ssot-ws/ssotws"

// SetAfterCommit installs a fault hook that runs after a write commits and
// before Apply returns.
func SetAfterCommit(s *TableStore, f func(*ssotws.Write)) { s.tables.AfterCommit = f }
