// The upload record (engine/storage/upload_record.h): slot encode/decode in memory; decoding a
// header and walking its metadata as the server's HEAD path does (header bytes already read);
// and the record half of a commit on a real file: encode the next slot and pwrite it over the
// older of the two slots, with and without the fdatasync that makes it durable. (The server
// issues the same write through io_uring, after an fdatasync of the data file; that part is
// not measured here.)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string_view>
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
  CommitSlot slot{1, 0, kUploadLength, 0, 1764000000000, 0};
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

// A new record as the server creates it (header with id and metadata, slot B).
std::vector<uint8_t> new_record(CommitSlot* first) {
  MetadataBlockWriter metadata;
  metadata.add("filename", "my_vacation_video.mp4");
  metadata.add("filetype", "video/mp4");
  constexpr uint64_t kCreated = 1764000000000;
  *first = CommitSlot{1, 0, kUploadLength, 0, kCreated, 0};
  return encode_new_record(NewRecord{"3f2a9c0e4b7d4e1f8a6b5c4d3e2f1a0b", kCreated, kUploadLength,
                                     Protocol::kTus, metadata.block()},
                           *first);
}

void BM_Record_DecodeHeaderAndMetadata(benchmark::State& state) {
  CommitSlot first;
  std::vector<uint8_t> record = new_record(&first);
  const uint8_t* header = record.data() + kHeaderOffset;
  const size_t header_bytes = record.size() - kHeaderOffset;
  alignas(64) uint8_t scratch[256];  // for v1 values; v2 needs none
  for (auto _ : state) {
    HeaderDecode h = decode_header(header, header_bytes);
    MetadataReader reader(h.header.version, h.header.metadata, scratch);
    std::string_view key;
    std::string_view value;
    size_t value_bytes = 0;
    while (reader.next(&key, &value) == MetadataReader::Result::kPair) value_bytes += value.size();
    if (h.error != RecordError::kOk || value_bytes != 30) {
      state.SkipWithError("header did not decode");
      break;
    }
    benchmark::DoNotOptimize(value_bytes);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(header_bytes));
  state.SetLabel("item = decode_header + 2 metadata pairs (v2, what HEAD reads)");
}
BENCHMARK(BM_Record_DecodeHeaderAndMetadata);

// The new record made durable.
bool create_record(benchmark::State& state, int fd, CommitSlot* first) {
  std::vector<uint8_t> bytes = new_record(first);
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
