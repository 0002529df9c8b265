// The upload record commit (engine/storage/upload_record.h): slot encode/decode in memory, and
// the record half of a commit on a real file: encode the next slot and pwrite it over the
// older of the two slots, with and without the fdatasync that makes it durable. (The server
// issues the same write through io_uring, after an fdatasync of the data file; that part is
// not measured here.)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bench/micro/bench_dir.h"
#include "engine/storage/upload_record.h"

namespace ringest::storage {
namespace {

constexpr uint64_t kUploadLength = 1ull << 30;
constexpr uint64_t kChunk = 256 * 1024;

CommitSlot next_slot(const CommitSlot& prev) {
  CommitSlot s = prev;
  s.sequence = prev.sequence + 1;
  s.committed_offset = (prev.committed_offset + kChunk) % kUploadLength;
  s.updated_unix_ms = prev.updated_unix_ms + 1;
  return s;
}

void BM_Record_EncodeDecodeSlot(benchmark::State& state) {
  alignas(64) uint8_t buf[kSlotBytes];
  CommitSlot slot{1, 0, kUploadLength, 0, 1764000000000};
  CommitSlot decoded;
  for (auto _ : state) {
    slot = next_slot(slot);
    encode_slot(slot, buf);
    benchmark::ClobberMemory();
    if (!decode_slot(buf, &decoded) || decoded.sequence != slot.sequence) {
      state.SkipWithError("slot did not round-trip");
      break;
    }
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kSlotBytes));
  state.SetLabel("item = encode + decode of one 512 B slot");
}
BENCHMARK(BM_Record_EncodeDecodeSlot);

// A new record as the server creates it (header with id and metadata, slot B), made durable.
bool create_record(benchmark::State& state, int fd, CommitSlot* first) {
  RecordHeader header;
  header.id = "3f2a9c0e4b7d4e1f8a6b5c4d3e2f1a0b";
  header.created_unix_ms = 1764000000000;
  header.upload_length = kUploadLength;
  header.metadata = "filename bXlfdmFjYXRpb25fdmlkZW8ubXA0,filetype dmlkZW8vbXA0";
  *first = CommitSlot{1, 0, kUploadLength, 0, header.created_unix_ms};
  std::vector<uint8_t> bytes = encode_new_record(header, *first);
  if (pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()) ||
      fdatasync(fd) != 0) {
    state.SkipWithError("could not create the record file");
    return false;
  }
  return true;
}

void record_commit(benchmark::State& state, bool sync) {
  bench::TempFile file("upload.rec");
  CommitSlot slot;
  if (!create_record(state, file.fd(), &slot)) return;
  alignas(64) uint8_t buf[kSlotBytes];
  for (auto _ : state) {
    slot = next_slot(slot);
    encode_slot(slot, buf);
    ssize_t n =
        pwrite(file.fd(), buf, kSlotBytes, static_cast<off_t>(slot_file_offset(slot.sequence)));
    if (n != static_cast<ssize_t>(kSlotBytes)) {
      state.SkipWithError("pwrite of the slot failed");
      break;
    }
    if (sync && fdatasync(file.fd()) != 0) {
      state.SkipWithError("fdatasync failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kSlotBytes));
  state.SetLabel(sync ? "item = commit (encode, pwrite 512 B, fdatasync)"
                      : "item = commit (encode, pwrite 512 B)");
}

void BM_RecordCommit_NoSync(benchmark::State& state) { record_commit(state, false); }
BENCHMARK(BM_RecordCommit_NoSync)->UseRealTime();

// Bounded in time whatever the disk: a slow fdatasync just means fewer iterations.
void BM_RecordCommit_Fdatasync(benchmark::State& state) { record_commit(state, true); }
BENCHMARK(BM_RecordCommit_Fdatasync)->UseRealTime()->MinTime(0.3);

}  // namespace
}  // namespace ringest::storage
