// ringest-mkuploads: fills a data directory with N uploads exactly as ringestd lays them out
// (record format v2 written by the server's own encoder, data files sized to their committed
// offsets), so the start-up benchmark can measure recovery of 100,000 uploads without making
// 100,000 uploads through the server first. Data files are sparse: recovery checks their size,
// never their bytes.
//
//   ringest-mkuploads --data-dir DIR --uploads N [--metadata-bytes M] [--seed S]
//
// A quarter of the uploads are complete, the rest half done; each carries M bytes of metadata
// (default 100: a file name and a type, as tus clients send). Files are written without fsync
// (the benchmark syncs once before it measures).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "engine/base/clock.h"
#include "engine/storage/upload_id.h"
#include "engine/storage/upload_record.h"

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "ringest-mkuploads: %s: %s\n", what, std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  uint64_t count = 0;
  size_t metadata_bytes = 100;
  unsigned seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--data-dir") dir = argv[i + 1];
    if (flag == "--uploads") count = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--metadata-bytes") metadata_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--seed") seed = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
  }
  if (dir.empty() || count == 0) {
    std::fprintf(stderr, "usage: ringest-mkuploads --data-dir DIR --uploads N "
                         "[--metadata-bytes M] [--seed S]\n");
    return 2;
  }
  mkdir(dir.c_str(), 0750);
  std::string uploads = dir + "/uploads";
  mkdir(uploads.c_str(), 0750);
  mkdir((dir + "/quarantine").c_str(), 0750);
  int dir_fd = open(uploads.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return fail("open uploads/");

  std::mt19937_64 rng(seed);
  ringest::storage::MetadataBlockWriter metadata;
  std::string name(metadata_bytes > 24 ? metadata_bytes - 24 : 1, 'n');
  metadata.add("filename", name);
  metadata.add("filetype", "application/octet-stream");
  // Made now: uploads from 2023 would be past the default --expire-after (7d), and the
  // collector would start deleting them as ringestd starts.
  const uint64_t now_ms = ringest::unix_ms_now();
  for (uint64_t i = 0; i < count; ++i) {
    std::string id = ringest::new_upload_id();
    uint64_t length = 1 + rng() % (64u << 20);
    uint64_t offset = i % 4 == 0 ? length : length / 2;
    ringest::storage::NewRecord record;
    record.id = id;
    record.created_unix_ms = now_ms + i;
    record.declared_length = length;
    record.protocol = ringest::storage::Protocol::kTus;
    record.metadata_block = metadata.block();
    ringest::storage::CommitSlot slot;
    slot.sequence = 1;
    slot.committed_offset = offset;
    slot.upload_length = length;
    slot.flags = offset == length ? ringest::storage::kFlagComplete : 0;
    slot.updated_unix_ms = record.created_unix_ms;
    std::vector<uint8_t> bytes = ringest::storage::encode_new_record(record, slot);
    int rec = openat(dir_fd, (id + ".rec").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (rec < 0) return fail("create a record");
    if (write(rec, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      return fail("write a record");
    }
    close(rec);
    int bin = openat(dir_fd, (id + ".bin").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (bin < 0) return fail("create a data file");
    if (ftruncate(bin, static_cast<off_t>(length)) != 0) return fail("size a data file");
    close(bin);
  }
  close(dir_fd);
  std::printf("%llu uploads in %s\n", static_cast<unsigned long long>(count), dir.c_str());
  return 0;
}
