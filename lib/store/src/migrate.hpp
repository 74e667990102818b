#pragma once
// Moving a CA folder made by mqttpki 0.1 (index.json + index.journal) to DIR/ca.db (internal to store).

#include <mqttpki/store/ca_folder.hpp>

namespace mqttpki::store {

// Under the folder lock, when DIR/index.json exists and DIR/ca.db does not: reads index.json with the journal's
// records applied (a torn last record, left by a killed append, is ignored as 0.1 did), builds the database
// beside it (each certificate's bytes from its file when the file still holds that serial) and renames it into
// place, then moves index.json and index.journal to DIR/backup/index-<UTC time>/. A kill at any point leaves
// either the old files (migrated again next time) or ca.db (the old files moved next time).
void migrate_json_index(const CaLayout& layout, TimePoint now);

// After a kill between the rename and the move: index.json beside ca.db is moved to the backup.
void move_legacy_index(const CaLayout& layout, TimePoint now);

}  // namespace mqttpki::store
