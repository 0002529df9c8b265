#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

The seeds are committed; run this again only to change them (it rewrites the same files).
http_parser seeds are the target's 7 control bytes (see http_parser_fuzz.cc) followed by real
request bytes; tus_headers seeds are header values; upload_record seeds are a mode byte and a
record file in the layout of docs/storage-format.md (header versions 1 and 2, and header version
3: partial and final uploads; slots up to version 3).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# http_parser: control bytes = head limit index (0-7), max headers, target limit index (0-5),
# sink mode, two bytes of cut-point seed, the trailer to capture (0 none, 1 Upload-Checksum,
# 2 X-T).
def http(name, request, head=7, headers=16, target=5, sink=2, seed=0x0101, capture=1):
    control = bytes([head, headers, target, sink, seed & 0xFF, seed >> 8, capture])
    write("http_parser", name, control + request)


ID = b"0123456789abcdef0123456789abcdef"
http("create", b"POST /files/ HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nTus-Resumable: 1.0.0\r\n"
     b"Upload-Length: 11\r\nUpload-Metadata: filename d29ybGQudHh0\r\n\r\n")
http("patch_content_length", b"PATCH /files/" + ID + b" HTTP/1.1\r\nHost: h\r\n"
     b"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
     b"Content-Type: application/offset+octet-stream\r\nContent-Length: 11\r\n\r\nhello world",
     seed=0x2a07)
http("patch_chunked", b"PATCH /files/" + ID + b" HTTP/1.1\r\nHost: h\r\n"
     b"Tus-Resumable: 1.0.0\r\nUpload-Offset: 11\r\n"
     b"Content-Type: application/offset+octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n", seed=0x0913)
http("pipelined", b"HEAD /files/" + ID + b" HTTP/1.1\r\nTus-Resumable: 1.0.0\r\n\r\n"
     b"OPTIONS /files/ HTTP/1.1\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n"
     b"DELETE /files/" + ID + b" HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n",
     seed=0x5c31)
http("expect_continue", b"POST /files/ HTTP/1.1\r\nHost: h\r\nTus-Resumable: 1.0.0\r\n"
     b"Upload-Length: 4\r\nContent-Type: application/offset+octet-stream\r\n"
     b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\nabcd")
http("method_override", b"POST /files/" + ID + b" HTTP/1.1\r\nX-HTTP-Method-Override: PATCH\r\n"
     b"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nUpload-Checksum: sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\r\n"
     b"Content-Type: application/offset+octet-stream\r\nContent-Length: 3\r\n\r\nabc")
http("head_too_large", b"POST /files/ HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 1\r\n"
     b"Upload-Concat: final;/files/a /files/b\r\n\r\n", head=1)
http("too_many_headers", b"GET /healthz HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", headers=2)
http("target_too_long", b"GET /files/" + ID + b"?x=1 HTTP/1.1\r\n\r\n", target=2)
http("body_refused", b"PATCH /files/" + ID + b" HTTP/1.1\r\nContent-Length: 20\r\n\r\n"
     b"0123456789abcdefghij", sink=1 + 4 * 1)
# Trailers after a full head: once merged into the head mid-body (found by this target).
http("trailers", b"PATCH /files/" + ID + b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\nUpload-Offset: 9\r\nX-T: y\r\n\r\n", headers=1, seed=0x0302)
http("upgrade", b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
     b"GET / HTTP/1.1\r\n\r\n")
# Trailer capture (tus checksum-trailer): the field once, in another case, with whitespace and
# an obs-fold, twice, too long, and a Content-Length request that has no trailers to capture.
CHUNKED_PATCH = (b"PATCH /files/" + ID + b" HTTP/1.1\r\nHost: h\r\nTus-Resumable: 1.0.0\r\n"
                 b"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                 b"Transfer-Encoding: chunked\r\nTrailer: Upload-Checksum\r\n\r\n"
                 b"3\r\nabc\r\n0\r\n")
http("trailer_checksum", CHUNKED_PATCH + b"Upload-Checksum: crc32c Nks/tw==\r\n\r\n",
     seed=0x0405)
http("trailer_checksum_case_ows", CHUNKED_PATCH + b"X-T: 1\r\nupload-CHECKSUM: \t sha1 "
     b"qZk+NkcGgWq6PiVxeFDCbJzQ2J0= \t\r\n\r\n", seed=0x1703)
http("trailer_checksum_folded", CHUNKED_PATCH + b"Upload-Checksum: md5\r\n "
     b"kAFQmDzST7DWlj99KOF/cg==\r\n\r\n", seed=0x2211)
http("trailer_checksum_twice", CHUNKED_PATCH + b"Upload-Checksum: crc32 NSRBwg==\r\n"
     b"Upload-Checksum: crc32 NSRBwg==\r\n\r\n", seed=0x0b0c)
http("trailer_checksum_too_long", CHUNKED_PATCH + b"Upload-Checksum: sha256 " + b"A" * 200 +
     b"\r\n\r\n", seed=0x3001)
http("trailer_other_name", CHUNKED_PATCH + b"X-T: a\r\nUpload-Checksums: b\r\n\r\n",
     seed=0x0707, capture=2)
http("trailer_capture_content_length", b"PATCH /files/" + ID + b" HTTP/1.1\r\nHost: h\r\n"
     b"Upload-Checksum: crc32c Nks/tw==\r\nContent-Length: 3\r\n\r\nabc"
     b"PATCH /files/" + ID + b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
     b"Upload-Checksum: crc32c Nks/tw==\r\n\r\n", seed=0x0e0f)

# tus_headers: header values, one per file.
for name, value in [
    ("offset_zero", b"0"),
    ("offset_large", b"9223372036854775807"),
    ("metadata", b"filename d29ybGQudHh0,filetype dGV4dC9wbGFpbg=="),
    ("metadata_keys", b"is_confidential, name YWI=,x +/+/"),
    ("content_type", b"application/offset+octet-stream; charset=utf-8"),
    ("checksum_sha1", b"sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
    ("checksum_sha256", b"sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="),
    ("checksum_md5", b"md5 kAFQmDzST7DWlj99KOF/cg=="),
    ("checksum_crc32", b"crc32 NSRBwg=="),
    ("checksum_crc32c", b"crc32c Nks/tw=="),
    ("checksum_crc32c_wrong_size", b"crc32c Nks/tw8="),
    ("checksum_unknown_algorithm", b"sha512 qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
    ("trailer_list", b"X-Sig , upload-checksum,\tServer-Timing"),
    ("concat_partial", b"partial"),
    ("concat_final", b"final;/files/a https://example.com/files/b"),
]:
    write("tus_headers", name, value)


# upload_record: a mode byte (bit 0: reseal the header CRC, bit 1: slot A's, bit 2: slot B's,
# see upload_record_fuzz.cc) followed by a whole record file. Version 1 records are built as a
# v1 server wrote them; version 2 ones as docs/storage-format.md describes.
def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


UNKNOWN = 0xFFFFFFFFFFFFFFFF


def slot(version, sequence, offset, length, flags, updated_ms, expires_ms=0, content_crc=0):
    """Version 3 carries content_crc (the CRC-32C of the committed bytes) with flag bit 2."""
    body = struct.pack("<IHHQQQIIQ", 0x4C534752, version, 0, sequence, offset, length, flags, 0,
                       updated_ms)
    if version >= 2:
        body += struct.pack("<Q", expires_ms)
    if version == 3:
        body += struct.pack("<I", content_crc)
    body += bytes(508 - len(body))
    return body + struct.pack("<I", crc32c(body))


def block(pairs):
    out = struct.pack("<I", len(pairs))
    for key, value in pairs:
        out += struct.pack("<H", len(key)) + key + struct.pack("<I", len(value)) + value
    return out


def record(version, upload_id, created_ms, length, metadata, slots, protocol=1, flags=0,
           parts=None):
    """slots: (slot version, sequence, offset, length, flags, updated_ms[, expires_ms[, crc]]).
    parts: a final's (id, length) list (header version 3, flag bit 2)."""
    byte6, byte7 = (protocol, flags) if version >= 2 else (0, 0)
    fixed = struct.pack("<IHBB32sQQII", 0x44484752, version, byte6, byte7, upload_id, created_ms,
                        length, len(metadata), 0)
    header_crc = crc32c(metadata, crc32c(fixed))
    header = fixed[:60] + struct.pack("<I", header_crc) + metadata
    if parts is not None:
        block = struct.pack("<I", len(parts))
        for part_id, part_length in parts:
            block += part_id + struct.pack("<Q", part_length)
        header += block + struct.pack("<I", crc32c(block, header_crc))
    area = bytearray(1024)
    for s in slots:
        at = (s[1] % 2) * 512
        area[at:at + 512] = slot(*s)
    return bytes(area) + header


def write_record(name, data, mode=0):
    write("upload_record", name, bytes([mode]) + data)


META_V1 = b"filename d29ybGQudHh0,filetype dGV4dC9wbGFpbg=="
META_V2 = block([(b"filename", b"world.txt"), (b"filetype", b"text/plain")])
OTHER = b"fedcba9876543210fedcba9876543210"
write_record("v1_fresh", record(1, ID, 1700000000123, 1000, META_V1,
                                [(1, 1, 0, 1000, 0, 1700000000123)]))
write_record("v1_two_slots", record(1, ID, 1700000000123, 1000, META_V1,
                                    [(1, 2, 500, 1000, 0, 1700000000200),
                                     (1, 3, 800, 1000, 0, 1700000000300)]))
write_record("v1_complete_empty", record(1, OTHER, 1700000000000, 0, b"",
                                         [(1, 1, 0, 0, 1, 1700000000000)]))
write_record("v1_record_v2_slot", record(1, ID, 1700000000123, 1000, META_V1,
                                         [(1, 2, 500, 1000, 0, 1700000000200),
                                          (2, 3, 1000, 1000, 1, 1700000000300, 1800000000000)]))
write_record("v2_fresh", record(2, ID, 1700000000123, 1000, META_V2,
                                [(2, 1, 0, 1000, 0, 1700000000123)]))
write_record("v2_two_slots_expiry", record(2, ID, 1700000000123, 1000, META_V2,
                                           [(2, 4, 600, 1000, 0, 1700000000200, 1800000000000),
                                            (2, 5, 1000, 1000, 3, 1700000000300, 1800000000000)],
                                           protocol=3))
write_record("v2_deferred", record(2, ID, 1700000000123, UNKNOWN, b"",
                                   [(2, 1, 0, UNKNOWN, 0, 1700000000123),
                                    (2, 2, 4096, UNKNOWN, 0, 1700000000200)],
                                   protocol=6, flags=1))
write_record("v2_deferred_declared", record(2, ID, 1700000000123, UNKNOWN, META_V2,
                                            [(2, 2, 4096, UNKNOWN, 0, 1700000000200),
                                             (2, 3, 4096, 5000, 0, 1700000000300)],
                                            protocol=2, flags=1))
write_record("v2_binary_metadata", record(2, OTHER, 1, 7, block([(b"k", bytes(range(256))),
                                                                  (b"e", b""), (b"\xff,", b"x")]),
                                          [(2, 1, 7, 7, 1, 2)], protocol=0))
# Meant to be resealed (mode 7): an unknown protocol, a reserved header flag and a version 2
# slot with the content-CRC flag (which only version 3 has), so that the checks behind the CRCs
# are reached from the first run.
bad = bytearray(record(2, ID, 1700000000123, 1000, META_V2,
                       [(2, 1, 0, 1000, 0, 1700000000123), (2, 2, 10, 1000, 4, 1700000000200)],
                       protocol=7, flags=2))
write_record("v2_resealed_bad_fields", bytes(bad), mode=7)
# Version 3 slots (what ringestd writes since the whole-file CRC-32C): with the content CRC
# (of 1000 bytes 'a' in the live slot, 600 in the older), and without (spliced bytes leave it
# unknown); a v2 slot with a v3 slot after it; and one to reseal with a reserved flag bit and a
# CRC without its flag.
CRC_A1000 = crc32c(b"a" * 1000)
CRC_A600 = crc32c(b"a" * 600)
write_record("v3_content_crc", record(2, ID, 1700000000123, 1000, META_V2,
                                      [(3, 6, 600, 1000, 4, 1700000000200, 0, CRC_A600),
                                       (3, 7, 1000, 1000, 5, 1700000000300, 0, CRC_A1000)]))
write_record("v3_no_content_crc", record(2, OTHER, 1700000000123, UNKNOWN, b"",
                                         [(3, 1, 0, UNKNOWN, 4, 1700000000123, 0, 0),
                                          (3, 2, 65536, UNKNOWN, 0, 1700000000200)],
                                         protocol=1, flags=1))
write_record("v2_then_v3_slot", record(2, ID, 1700000000123, 1000, META_V2,
                                       [(2, 8, 500, 1000, 0, 1700000000200),
                                        (3, 9, 1000, 1000, 7, 1700000000300, 1800000000000,
                                         CRC_A1000)]))
write_record("v3_resealed_bad_fields", record(2, ID, 1700000000123, 1000, META_V2,
                                              [(3, 3, 10, 1000, 8, 1700000000200, 0, 0),
                                               (3, 4, 20, 1000, 0, 1700000000300, 0, 12345)]),
             mode=7)
# The same records resealed (mode 7): a mutation of any header or slot field then reaches the
# checks behind the CRCs. The first 512 bytes double as a slot seed.
for name in ["v1_two_slots", "v2_two_slots_expiry", "v2_deferred_declared", "v2_binary_metadata",
             "v3_content_crc", "v2_then_v3_slot"]:
    with open(os.path.join(HERE, "corpus", "upload_record", name), "rb") as f:
        write_record(name + "_resealed", f.read()[1:], mode=7)
# Header version 3: a partial (deferred, then declared), and finals: two parts and a part listed
# twice with an empty one between; resealed (mode 15: the parts CRC too) with both flags set.
PART_A = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
PART_B = b"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
write_record("v3_partial", record(3, ID, 1700000000123, UNKNOWN, META_V2,
                                  [(2, 1, 0, UNKNOWN, 0, 1700000000123),
                                   (2, 2, 700, 700, 1, 1700000000200)], flags=3))
write_record("v3_final", record(3, OTHER, 1700000000300, 1000, META_V2,
                                [(2, 1, 1000, 1000, 1, 1700000000300)], flags=4,
                                parts=[(PART_A, 600), (PART_B, 400)]))
write_record("v3_final_repeated_part", record(3, OTHER, 1700000000300, 1200, b"",
                                              [(2, 1, 1200, 1200, 1, 1700000000300)], flags=4,
                                              parts=[(PART_A, 600), (PART_B, 0), (PART_A, 600)]))
write_record("v3_final_bad_flags_resealed",
             record(3, OTHER, 1700000000300, 1000, META_V2,
                    [(2, 1, 1000, 1000, 1, 1700000000300)], flags=6,
                    parts=[(PART_A, 1000)]), mode=15)
# Metadata alone (the target also reads its input as v1 text and as a v2 block): the v1 pair
# limit exactly, the tus spellings, and a v2 block.
write_record("metadata_v1_64_pairs", b",".join(b"k%d" % i for i in range(64)))
write_record("metadata_v1_forms", b" filename  d29ybGQudHh0 ,\tempty,x+/ AAD/,k Zh==,n YWI=")
write_record("metadata_v2_block", block([(b"a", b"1"), (b"bb", b""), (b"c" * 3, b"\x00\xff")]))

# filepond_request: the input is, at once, a request target (the query), a form (Content-Type,
# '\n', multipart body), a metadata JSON text and an Upload-Name value.
FP_FORM = (b'------WebKitFormBoundaryAbC\r\nContent-Disposition: form-data; name="filepond"\r\n\r\n'
           b'{"filename":"cat.png","filetype":"image/png"}\r\n------WebKitFormBoundaryAbC--\r\n')
write("filepond_request", "query-patch", b"/filepond?patch=0123456789abcdef0123456789abcdef")
write("filepond_request", "query-fetch", b"/filepond?fetch=http://x/?a=1&b=2")
write("filepond_request", "form-browser",
      b"multipart/form-data; boundary=----WebKitFormBoundaryAbC\n" + FP_FORM)
write("filepond_request", "form-two-parts",
      b'multipart/form-data; boundary="b"\npre\r\n--b\r\nContent-Disposition: form-data; '
      b'name="a"; filename="x"\r\n\r\nxyz\r\n--b\r\nContent-Disposition: form-data; name="b"'
      b'\r\n\r\n{}\r\n--b--\r\n')
write("filepond_request", "json-object",
      b'{"filename":"caf\\u00e9","n":1,"o":{"a":"b"},"l":["x"],"filename":"again"}')
write("filepond_request", "name-utf8", "été ✓.txt".encode())
