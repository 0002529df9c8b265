// Recovery: what start-up knows about the uploads on disk, in one pass over uploads/ that is
// linear in the number of files and holds no descriptor afterwards.
//
// For every uploads/<id>.rec: read and check the record (docs/storage-format.md), check that
// <id>.bin is a regular file at least as long as the committed offset (fstatat, no open). A
// final upload of a concatenation has no data file: each of its parts must instead be a sound
// upload here that is a complete partial of the length the final lists (so a final whose
// creation was cut short, or whose parts went missing, is never served), and its operator
// manifest <id>.parts is rewritten when it is missing or stale. An
// upload that fails goes to quarantine/ with the real reason in <id>.reason; a data file or a
// manifest with no record (a creation that never became durable, never acknowledged) is
// removed. Then
// quarantine/ is checked the same way, and what checks out now (for example after a disk error
// went away) is moved back. Finally one syncfs() makes durable everything that was read: a
// record may have been only in the page cache when the previous process died between a write
// and its fdatasync, and nothing read here may be reported before it is on stable storage.
//
// Running out of descriptors or memory says nothing about an upload: recovery then stops with
// an error (start-up must not continue) and moves nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/storage/data_dir.h"
#include "engine/storage/upload_record.h"

namespace ringest::storage {

// One part of a recovered final upload.
struct RecoveredPart {
  char id[kIdChars];
  uint64_t length = 0;
};

// What the server keeps in memory of a recovered upload (the metadata stays on disk).
struct RecoveredUpload {
  char id[kIdChars];
  uint64_t created_unix_ms = 0;
  uint32_t metadata_bytes = 0;
  uint16_t record_version = 0;
  uint8_t protocol = 0;
  bool partial = false;
  bool final = false;
  CommitSlot state;
  uint64_t data_file_bytes = 0;  // the data file's size (a preallocated file: its length)
  std::vector<RecoveredPart> parts;  // a final's, in order
};

struct RecoveryReport {
  // Every final comes after all the uploads it lists (finals last), so adopting them in this
  // order finds each final's parts already known.
  std::vector<RecoveredUpload> uploads;
  int quarantined = 0;       // set aside this time
  int readmitted = 0;        // moved back from quarantine/
  int orphans_removed = 0;   // data files (and finals' manifests) without a record
  int manifests_written = 0; // finals' <id>.parts rewritten (missing, torn or stale)
  int fell_back = 0;         // records whose newest commit slot was corrupt
};

// False, with `error` saying why, when start-up must stop.
bool recover(DataDir& dir, RecoveryReport* report, std::string* error);

}  // namespace ringest::storage
