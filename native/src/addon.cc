// chainlanes_native: thread affinity, batch SHA-256 and RFC 6962 Merkle roots for the lane
// workers. The byte formats are in DESIGN.md "Data layer formats"; src/native/fallback.ts is
// the pure-JS twin and must produce identical bytes.
//
// SHA-256 backend. Measured with a throwaway addon timing each API in a C++ loop against
// Node 20.20's bundled OpenSSL 3.0.19 (Xeon with sha_ni, 2 cores, g++ 12 -O3), 64 entries
// x 200 B per round, 1.28 M entries per variant, ns per entry (3 runs agreed within 3%):
//   SHA256_Init/Update/Final on a stack SHA256_CTX ........ 191
//   EVP_DigestInit_ex2/Update/Final_ex, pre-fetched EVP_MD
//     and one reused EVP_MD_CTX ............................ 228
//   one-shot SHA256() ..................................... 501  (3.0 fetches the MD per call)
//   EVP_Digest(EVP_sha256()) .............................. 482
//   65-byte Merkle node input: low-level 128, reused EVP 156
// The low-level API wins by ~16% and needs no per-thread context (the addon is loaded once
// per process but called from many worker threads), so it is used throughout. It is
// deprecated in OpenSSL 3, hence OPENSSL_SUPPRESS_DEPRECATED in binding.gyp. OpenSSL picks
// the SHA-NI code path at run time by itself.

#include <napi.h>
#include <openssl/sha.h>

#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

// native/src/loop-turns.cc: the calling thread's event-loop turns, measured.
void RegisterLoopTurns(Napi::Env env, Napi::Object exports);

namespace {

constexpr size_t kDigest = 32;
// No kernel supports more CPUs than this (x86 MAXSMP is 8192); a larger index cannot exist.
constexpr uint64_t kMaxCpu = 65536;

struct Bytes {
  uint8_t* data;
  size_t length;
};

// An argument's name in thrown messages, "function: parameter", kept as its literal parts
// and made a string only when a message is thrown. Every call checks every argument, and a
// std::string per argument was a malloc and a free each: under callgrind a single-entry frame
// cost the front door 40,800 instructions with them and 35,200 without, the sealer 17,600 and
// 13,200 (bench/history/2026-12-07.md, "The native calls' argument names").
struct ArgName {
  const char* fn;
  const char* param;
};

std::string Describe(const ArgName& name) { return std::string(name.fn) + ": " + name.param; }
std::string Describe(const char* name) { return name; }
std::string Describe(const std::string& name) { return name; }

// One napi call per argument: napi_get_typedarray_info both type-checks and returns the data
// pointer already advanced by the view's byteOffset.
template <napi_typedarray_type Type, typename Name>
void* TypedValue(napi_env env, napi_value value, const Name& name, const char* what, size_t* length) {
  napi_typedarray_type type;
  void* data = nullptr;
  napi_status status = napi_get_typedarray_info(env, value, &type, length, &data, nullptr, nullptr);
  if (status != napi_ok || type != Type) {
    throw Napi::TypeError::New(env, Describe(name) + " must be " + what);
  }
  return data;
}

template <napi_typedarray_type Type, typename Name>
void* TypedArg(const Napi::CallbackInfo& info, size_t i, const Name& name, const char* what, size_t* length) {
  return TypedValue<Type>(info.Env(), info[i], name, what, length);
}

template <typename Name>
Bytes Uint8Arg(const Napi::CallbackInfo& info, size_t i, const Name& name) {
  Bytes b{nullptr, 0};
  b.data = static_cast<uint8_t*>(TypedArg<napi_uint8_array>(info, i, name, "a Uint8Array", &b.length));
  return b;
}

// Safe integers only: counts and offsets above 2^53 cannot be exact in JS anyway.
template <typename Name>
uint64_t IndexValue(Napi::Env env, Napi::Value v, const Name& name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, Describe(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d)) {
    throw Napi::RangeError::New(env, Describe(name) + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(d);
}

template <typename Name>
uint64_t IndexArg(const Napi::CallbackInfo& info, size_t i, const Name& name) {
  return IndexValue(info.Env(), info[i], name);
}

inline void Sha256(const uint8_t* data, size_t length, uint8_t* out) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, data, length);
  SHA256_Final(out, &c);
}

// Prefix and data are copied into one contiguous input so OpenSSL does a single Update;
// copying also makes it safe for `out` to alias an input (the in-place tree levels rely on it).
inline void LeafHash(const uint8_t* data, uint8_t* out) {
  uint8_t in[1 + kDigest];
  in[0] = 0x00;
  std::memcpy(in + 1, data, kDigest);
  Sha256(in, sizeof in, out);
}

inline void NodeHash(const uint8_t* left, const uint8_t* right, uint8_t* out) {
  uint8_t in[1 + 2 * kDigest];
  in[0] = 0x01;
  std::memcpy(in + 1, left, kDigest);
  std::memcpy(in + 1 + kDigest, right, kDigest);
  Sha256(in, sizeof in, out);
}

// Spans may sit in shared memory another thread can write while we run. Each is read exactly
// once per pass so a check and the use that follows it see the same value.
inline int32_t LoadOnce(const int32_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

inline bool SpanOk(int32_t off, int32_t len, size_t srcLength) {
  return off >= 0 && len >= 0 && static_cast<uint64_t>(off) + static_cast<uint64_t>(len) <= srcLength;
}

// The arguments sha256Spans and gatherSpans share: (src, spans, count, dst, dstOffset).
struct SpanArgs {
  Bytes src;
  const int32_t* spans;
  uint64_t count;
  Bytes dst;
  uint64_t dstOffset;
};

SpanArgs ParseSpanArgs(const Napi::CallbackInfo& info, const char* fn) {
  SpanArgs a{};
  a.src = Uint8Arg(info, 0, ArgName{fn, "src"});
  size_t spanLength = 0;
  a.spans = static_cast<const int32_t*>(TypedArg<napi_int32_array>(info, 1, ArgName{fn, "spans"}, "an Int32Array", &spanLength));
  a.count = IndexArg(info, 2, ArgName{fn, "count"});
  a.dst = Uint8Arg(info, 3, ArgName{fn, "dst"});
  a.dstOffset = IndexArg(info, 4, ArgName{fn, "dstOffset"});
  if (a.count > spanLength / 2) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": count " + std::to_string(a.count) + " needs " +
                                                std::to_string(a.count * 2) + " span slots, spans has " +
                                                std::to_string(spanLength));
  }
  return a;
}

// Checks every span against src and returns their total length. Everything is checked
// before the first byte is written, so a bad batch leaves dst untouched.
uint64_t CheckSpans(Napi::Env env, const char* fn, const SpanArgs& a) {
  uint64_t total = 0;
  for (uint64_t i = 0; i < a.count; i++) {
    int32_t off = LoadOnce(a.spans + 2 * i), len = LoadOnce(a.spans + 2 * i + 1);
    if (!SpanOk(off, len, a.src.length)) {
      throw Napi::RangeError::New(env, std::string(fn) + ": span " + std::to_string(i) + " [" + std::to_string(off) + ", +" +
                                           std::to_string(len) + ") is outside src of length " +
                                           std::to_string(a.src.length));
    }
    total += static_cast<uint64_t>(len);
  }
  return total;
}

// Span i, read again for use. Only a caller rewriting the spans from another thread mid-call
// can make it differ from the checked one; the check keeps that a JS error, not an
// out-of-bounds read.
void SpanAt(Napi::Env env, const char* fn, const SpanArgs& a, uint64_t i, int32_t* off, int32_t* len) {
  *off = LoadOnce(a.spans + 2 * i);
  *len = LoadOnce(a.spans + 2 * i + 1);
  if (!SpanOk(*off, *len, a.src.length)) {
    throw Napi::RangeError::New(env, std::string(fn) + ": span " + std::to_string(i) + " changed during the call");
  }
}

// With `within` [from, to): every span must lie inside it, each starting at or after the end of
// the one before (as a frame walk writes them). Checked with everything else, before any write.
void CheckSpansWithin(Napi::Env env, const char* fn, const SpanArgs& a, uint64_t from, uint64_t to) {
  uint64_t end = from;
  for (uint64_t i = 0; i < a.count; i++) {
    int32_t off = LoadOnce(a.spans + 2 * i), len = LoadOnce(a.spans + 2 * i + 1);
    if (off < 0 || len < 0 || static_cast<uint64_t>(off) < end || static_cast<uint64_t>(off) + static_cast<uint64_t>(len) > to) {
      throw Napi::RangeError::New(env, std::string(fn) + ": span " + std::to_string(i) + " [" + std::to_string(off) + ", +" +
                                           std::to_string(len) + ") is not in order inside [" + std::to_string(from) +
                                           ", " + std::to_string(to) + ")");
    }
    end = static_cast<uint64_t>(off) + static_cast<uint64_t>(len);
  }
}

// sha256Spans(src: Uint8Array, spans: Int32Array, count, dst: Uint8Array, dstOffset, from?, to?): void
void Sha256Spans(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpanArgs a = ParseSpanArgs(info, "sha256Spans");
  if (a.dstOffset > a.dst.length || a.count * kDigest > a.dst.length - a.dstOffset) {
    throw Napi::RangeError::New(env, "sha256Spans: dst range [" + std::to_string(a.dstOffset) + ", " +
                                         std::to_string(a.dstOffset + a.count * kDigest) +
                                         ") exceeds dst length " + std::to_string(a.dst.length));
  }
  CheckSpans(env, "sha256Spans", a);
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    uint64_t from = IndexArg(info, 5, "sha256Spans: from");
    uint64_t to = IndexArg(info, 6, "sha256Spans: to");
    CheckSpansWithin(env, "sha256Spans", a, from, to);
  }
  uint8_t* out = a.dst.data + a.dstOffset;
  for (uint64_t i = 0; i < a.count; i++, out += kDigest) {
    int32_t off, len;
    SpanAt(env, "sha256Spans", a, i, &off, &len);
    Sha256(a.src.data + off, static_cast<size_t>(len), out);
  }
}

// gatherSpans(src: Uint8Array, spans: Int32Array, count, dst: Uint8Array, dstOffset,
//             ends?: Uint32Array, endsAt?): number
// Copies each span's bytes, one after another, into dst from dstOffset; returns the bytes
// written. The sealer uses it to pull entries' contents out of a frame without a JS call per
// entry (Buffer#copy costs about half a microsecond a call; a memcpy of 200 bytes, nanoseconds).
// With `ends`, also writes where each entry ends in dst (absolute) into ends[endsAt + i], so the
// sealer's backlog keeps no JS loop per entry either.
Napi::Value GatherSpans(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpanArgs a = ParseSpanArgs(info, "gatherSpans");
  uint32_t* ends = nullptr;
  uint64_t endsAt = 0;
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    size_t endsLength = 0;
    ends = static_cast<uint32_t*>(TypedArg<napi_uint32_array>(info, 5, "gatherSpans: ends", "a Uint32Array", &endsLength));
    endsAt = IndexArg(info, 6, "gatherSpans: endsAt");
    if (endsAt > endsLength || a.count > endsLength - endsAt) {
      throw Napi::RangeError::New(env, "gatherSpans: " + std::to_string(a.count) + " ends from " + std::to_string(endsAt) +
                                           " exceed ends length " + std::to_string(endsLength));
    }
  }
  uint64_t total = CheckSpans(env, "gatherSpans", a);
  if (a.dstOffset > a.dst.length || total > a.dst.length - a.dstOffset) {
    throw Napi::RangeError::New(env, "gatherSpans: " + std::to_string(total) + " bytes from offset " +
                                         std::to_string(a.dstOffset) + " exceed dst length " +
                                         std::to_string(a.dst.length));
  }
  if (ends != nullptr && a.dstOffset + total > 0xffffffffULL) {
    throw Napi::RangeError::New(env, "gatherSpans: ends above 2^32-1 do not fit a Uint32Array");
  }
  uint8_t* out = a.dst.data + a.dstOffset;
  uint64_t written = 0;
  for (uint64_t i = 0; i < a.count; i++) {
    int32_t off, len;
    SpanAt(env, "gatherSpans", a, i, &off, &len);
    if (written + static_cast<uint64_t>(len) > total) {
      throw Napi::RangeError::New(env, "gatherSpans: span " + std::to_string(i) + " changed during the call");
    }
    std::memmove(out + written, a.src.data + off, static_cast<size_t>(len));
    written += static_cast<uint64_t>(len);
    if (ends != nullptr) ends[endsAt + i] = static_cast<uint32_t>(a.dstOffset + written);
  }
  return Napi::Number::New(env, static_cast<double>(written));
}

// copyBytes(src: Uint8Array, srcOffset, length, dst: Uint8Array, dstOffset): void
// One memcpy. For copies into or out of a SharedArrayBuffer: V8's TypedArray#set copies shared
// memory with its relaxed atomic copy, word by word only when source and destination are equally
// aligned, else byte by byte, and a frame from the socket rarely is: 5.5 instructions per byte
// under callgrind, ~5 µs per 12.9 KB frame on the front door (issue #25). Ranges are checked
// first; the views may overlap (memmove).
void CopyBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes src = Uint8Arg(info, 0, "copyBytes: src");
  uint64_t srcOffset = IndexArg(info, 1, "copyBytes: srcOffset");
  uint64_t length = IndexArg(info, 2, "copyBytes: length");
  Bytes dst = Uint8Arg(info, 3, "copyBytes: dst");
  uint64_t dstOffset = IndexArg(info, 4, "copyBytes: dstOffset");
  if (srcOffset > src.length || length > src.length - srcOffset) {
    throw Napi::RangeError::New(env, "copyBytes: [" + std::to_string(srcOffset) + ", +" + std::to_string(length) +
                                         ") is outside src of length " + std::to_string(src.length));
  }
  if (dstOffset > dst.length || length > dst.length - dstOffset) {
    throw Napi::RangeError::New(env, "copyBytes: [" + std::to_string(dstOffset) + ", +" + std::to_string(length) +
                                         ") is outside dst of length " + std::to_string(dst.length));
  }
  std::memmove(dst.data + dstOffset, src.data + srcOffset, static_cast<size_t>(length));
}

// Folds a level of m nodes in place down to its root (at s[0..32)): bottom-up, pairing left to
// right and carrying an odd last node up unchanged, which yields the same root as RFC 6962's
// recursive split at the largest power of two below m. Node i is written after nodes 2i and
// 2i+1 are read, and i <= 2i.
void FoldNodes(uint8_t* s, uint64_t m) {
  while (m > 1) {
    uint64_t half = m / 2;
    for (uint64_t i = 0; i < half; i++) {
      NodeHash(s + 2 * i * kDigest, s + (2 * i + 1) * kDigest, s + i * kDigest);
    }
    if (m & 1) std::memmove(s + half * kDigest, s + (m - 1) * kDigest, kDigest);
    m = half + (m & 1);
  }
}

// The RFC 6962 root of n >= 1 leaves whose data are the consecutive 32-byte hashes at `leaf`.
// `scratch` holds ceil(n/2) nodes: the leaf level is folded into the first pairing.
void TreeRoot(const uint8_t* leaf, uint64_t n, uint8_t* scratch, uint8_t* out) {
  if (n == 1) {
    LeafHash(leaf, out);
    return;
  }
  uint64_t m = (n + 1) / 2;
  for (uint64_t i = 0; i < n / 2; i++, leaf += 2 * kDigest) {
    uint8_t l[kDigest], r[kDigest];
    LeafHash(leaf, l);
    LeafHash(leaf + kDigest, r);
    NodeHash(l, r, scratch + i * kDigest);
  }
  if (n & 1) LeafHash(leaf, scratch + (m - 1) * kDigest);
  FoldNodes(scratch, m);
  std::memcpy(out, scratch, kDigest);
}

// merkleRoot(entryHashes: Uint8Array, n): Buffer — RFC 6962 / 9162 section 2.1 tree hash.
Napi::Value MerkleRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes hashes = Uint8Arg(info, 0, "merkleRoot: entryHashes");
  uint64_t n = IndexArg(info, 1, "merkleRoot: n");
  if (n > hashes.length / kDigest) {
    throw Napi::RangeError::New(env, "merkleRoot: " + std::to_string(n) + " leaves need " +
                                         std::to_string(n * kDigest) + " bytes, entryHashes has " +
                                         std::to_string(hashes.length));
  }
  uint8_t root[kDigest];
  if (n == 0) {
    Sha256(nullptr, 0, root);
  } else {
    std::unique_ptr<uint8_t[]> level(new (std::nothrow) uint8_t[((n + 1) / 2) * kDigest]);
    if (!level) throw Napi::Error::New(env, "merkleRoot: out of memory for " + std::to_string(n) + " leaves");
    TreeRoot(hashes.data, n, level.get(), root);
  }
  return Napi::Buffer<uint8_t>::Copy(env, root, kDigest);
}

inline void PutU32BE(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// One piece of a block: `count` entries whose hashes are back to back from `hashes`, and where
// each ends in `contents` (ends[i], absolute; entry 0 starts at `start`).
struct BlockPiece {
  const uint8_t* hashes;
  const uint32_t* ends;
  uint64_t count;
  uint64_t start;
  const uint8_t* contents;
};

// Reads pieces[i] = {hashes, ends, count, contentStart, contents} and checks it. Every property of
// every piece is read (JS getters may run) before any typed array's data pointer is taken, so
// nothing the getters do can leave a pointer dangling.
std::vector<BlockPiece> ReadPieces(Napi::Env env, Napi::Value value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "blockBody: pieces must be an array");
  Napi::Array array = value.As<Napi::Array>();
  uint32_t n = array.Length();
  if (n == 0) throw Napi::RangeError::New(env, "blockBody: a block has at least one piece");
  const char* keys[] = {"hashes", "ends", "count", "contentStart", "contents"};
  std::vector<Napi::Value> fields;
  fields.reserve(5 * static_cast<size_t>(n));
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value piece = array.Get(i);
    if (!piece.IsObject()) throw Napi::TypeError::New(env, "blockBody: pieces[" + std::to_string(i) + "] must be an object");
    for (const char* key : keys) fields.push_back(piece.As<Napi::Object>().Get(key));
  }
  std::vector<BlockPiece> pieces(n);
  for (uint32_t i = 0; i < n; i++) {
    const std::string at = "blockBody: pieces[" + std::to_string(i) + "].";
    const Napi::Value* f = &fields[5 * static_cast<size_t>(i)];
    size_t hashesLength = 0, endsLength = 0, contentsLength = 0;
    BlockPiece& p = pieces[i];
    p.hashes = static_cast<const uint8_t*>(TypedValue<napi_uint8_array>(env, f[0], at + "hashes", "a Uint8Array", &hashesLength));
    p.ends = static_cast<const uint32_t*>(TypedValue<napi_uint32_array>(env, f[1], at + "ends", "a Uint32Array", &endsLength));
    p.count = IndexValue(env, f[2], at + "count");
    p.start = IndexValue(env, f[3], at + "contentStart");
    p.contents = static_cast<const uint8_t*>(TypedValue<napi_uint8_array>(env, f[4], at + "contents", "a Uint8Array", &contentsLength));
    if (p.count == 0) throw Napi::RangeError::New(env, at + "count must be at least 1");
    if (p.count > hashesLength / kDigest) {
      throw Napi::RangeError::New(env, at + "hashes: " + std::to_string(p.count) + " entries need " + std::to_string(p.count * kDigest) +
                                           " bytes, it has " + std::to_string(hashesLength));
    }
    if (p.count > endsLength) {
      throw Napi::RangeError::New(env, at + "ends: " + std::to_string(p.count) + " entries, it has " + std::to_string(endsLength));
    }
    uint64_t previous = p.start;
    for (uint64_t e = 0; e < p.count; e++) {
      if (p.ends[e] < previous) throw Napi::RangeError::New(env, at + "ends decrease at entry " + std::to_string(e));
      previous = p.ends[e];
    }
    if (previous > contentsLength) {
      throw Napi::RangeError::New(env, at + "ends: the last end " + std::to_string(previous) + " is beyond contents of length " +
                                           std::to_string(contentsLength));
    }
  }
  return pieces;
}

// blockBody(pieces: {hashes, ends, count, contentStart, contents}[], chunkLeaves, dst: Uint8Array): Buffer
// One call per entry block: writes the variable part of the block record (src/ledger/records.ts)
//   ceil(count/chunkLeaves) chunk roots (32 each) ‖ count entry hashes (32 each)
//   ‖ count content ends, u32 big-endian, relative to the block's first content byte ‖ the contents
// into dst, which must be exactly that long, and returns the block's Merkle root (the RFC tree
// over the chunk roots as nodes: chunkLeaves is a power of two, so every split of the block's
// tree falls on a chunk boundary). The block's entries are the pieces' entries in order: a block
// the sealer holds in several backlog segments is written straight from them, with no staging
// copy. Everything is checked before the first byte is written.
Napi::Value BlockBody(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<BlockPiece> pieces = ReadPieces(env, info[0]);
  uint64_t chunkLeaves = IndexArg(info, 1, "blockBody: chunkLeaves");
  Bytes dst = Uint8Arg(info, 2, "blockBody: dst");
  if (chunkLeaves == 0 || (chunkLeaves & (chunkLeaves - 1)) != 0) {
    throw Napi::RangeError::New(env, "blockBody: chunkLeaves must be a power of two");
  }
  uint64_t count = 0, contentBytes = 0;
  for (const BlockPiece& p : pieces) {
    count += p.count;
    contentBytes += p.ends[p.count - 1] - p.start;
  }
  if (count > 0xffffffffULL) throw Napi::RangeError::New(env, "blockBody: count must be 1 to 2^32-1");
  if (contentBytes > 0xffffffffULL) throw Napi::RangeError::New(env, "blockBody: the contents' ends do not fit u32");
  uint64_t chunks = (count + chunkLeaves - 1) / chunkLeaves;
  uint64_t need = chunks * kDigest + count * kDigest + count * 4 + contentBytes;
  if (dst.length != need) {
    throw Napi::RangeError::New(env, "blockBody: dst has " + std::to_string(dst.length) + " bytes, the body needs " +
                                         std::to_string(need));
  }
  std::unique_ptr<uint8_t[]> scratch(new (std::nothrow) uint8_t[((std::min(count, chunkLeaves) + 1) / 2) * kDigest]);
  std::unique_ptr<uint8_t[]> level(new (std::nothrow) uint8_t[chunks * kDigest]);
  if (!scratch || !level) throw Napi::Error::New(env, "blockBody: out of memory");
  uint8_t* roots = dst.data;
  uint8_t* hashesOut = roots + chunks * kDigest;
  uint8_t* endsOut = hashesOut + count * kDigest;
  uint8_t* contentsOut = endsOut + count * 4;
  uint64_t k = 0, base = 0;
  for (const BlockPiece& p : pieces) {
    // memmove: nothing stops a caller from handing views of one buffer as pieces and dst.
    std::memmove(hashesOut + k * kDigest, p.hashes, p.count * kDigest);
    for (uint64_t e = 0; e < p.count; e++) PutU32BE(endsOut + 4 * (k + e), static_cast<uint32_t>(base + p.ends[e] - p.start));
    uint64_t bytes = p.ends[p.count - 1] - p.start;
    std::memmove(contentsOut + base, p.contents + p.start, bytes);
    k += p.count;
    base += bytes;
  }
  // The chunk roots from the record's own copy of the hashes, which is contiguous whatever the pieces.
  for (uint64_t c = 0; c < chunks; c++) {
    uint64_t first = c * chunkLeaves;
    uint64_t size = std::min(chunkLeaves, count - first);
    TreeRoot(hashesOut + first * kDigest, size, scratch.get(), roots + c * kDigest);
  }
  // The root over the chunk roots, folded in a copy: the chunk roots stay in the record.
  std::memcpy(level.get(), roots, chunks * kDigest);
  FoldNodes(level.get(), chunks);
  return Napi::Buffer<uint8_t>::Copy(env, level.get(), kDigest);
}

// sha256(data: Uint8Array): Buffer
Napi::Value Sha256One(const Napi::CallbackInfo& info) {
  Bytes data = Uint8Arg(info, 0, "sha256: data");
  uint8_t out[kDigest];
  Sha256(data.data, data.length, out);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out, kDigest);
}

// pinThread(cpus: number[]): boolean — pins the calling OS thread only. worker_threads are
// OS threads, so a worker pins itself without touching the main thread or its siblings.
Napi::Value PinThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "pinThread: cpus must be an array of CPU indices");
  Napi::Array cpus = info[0].As<Napi::Array>();
  uint32_t count = cpus.Length();
  if (count == 0) throw Napi::TypeError::New(env, "pinThread: cpus must not be empty");
  // Read each element once: an element getter could return something else the second time.
  std::vector<uint64_t> wanted(count);
  uint64_t highest = 0;
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value v = cpus.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d)) {
      throw Napi::TypeError::New(env, "pinThread: cpus[" + std::to_string(i) + "] is not a non-negative integer");
    }
    wanted[i] = static_cast<uint64_t>(d);
    if (wanted[i] > highest) highest = wanted[i];
  }
#ifdef __linux__
  if (highest >= kMaxCpu) return Napi::Boolean::New(env, false);
  // A dynamically sized set, so CPUs beyond the 1024 of a static cpu_set_t can be named.
  size_t cpuCount = static_cast<size_t>(highest) + 1;
  cpu_set_t* set = CPU_ALLOC(cpuCount);
  if (set == nullptr) return Napi::Boolean::New(env, false);
  size_t size = CPU_ALLOC_SIZE(cpuCount);
  CPU_ZERO_S(size, set);
  for (uint64_t cpu : wanted) CPU_SET_S(static_cast<size_t>(cpu), size, set);
  // The kernel intersects the set with the online CPUs and refuses (EINVAL) only when nothing
  // is left, so [0, 999] on a 2-core machine pins to 0 and succeeds.
  int rc = pthread_setaffinity_np(pthread_self(), size, set);
  CPU_FREE(set);
  return Napi::Boolean::New(env, rc == 0);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// setThreadNice(nice): boolean — the calling thread's nice value (-20..19). On Linux a
// thread has its own nice value (setpriority on its thread id), so a lane can yield the CPU
// to another without touching the rest of the process. Raising it is always allowed;
// lowering it below the current value needs CAP_SYS_NICE, and false says it was refused.
Napi::Value SetThreadNice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "setThreadNice: nice must be a number");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= -20 && d <= 19 && std::floor(d) == d)) throw Napi::RangeError::New(env, "setThreadNice: nice must be an integer from -20 to 19");
#if defined(__linux__)
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  return Napi::Boolean::New(env, setpriority(PRIO_PROCESS, static_cast<id_t>(tid), static_cast<int>(d)) == 0);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// setThreadRealtime(priority): string | null — the calling thread's scheduling: 1..99 puts
// it under SCHED_RR at that priority, so it runs the moment it is runnable, ahead of every
// ordinary thread (it still yields to the kernel's real-time throttle, 5 % of each second by
// default); 0 makes it an ordinary thread again. SCHED_RESET_ON_FORK: threads it starts later
// are ordinary, not real-time. Needs CAP_SYS_NICE (or RLIMIT_RTPRIO); null when done, else
// the OS's reason.
Napi::Value SetThreadRealtime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "setThreadRealtime: priority must be a number");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 99 && std::floor(d) == d)) throw Napi::RangeError::New(env, "setThreadRealtime: priority must be an integer from 0 to 99");
#if defined(__linux__)
  sched_param param{};
  param.sched_priority = static_cast<int>(d);
  int policy = param.sched_priority == 0 ? SCHED_OTHER : (SCHED_RR | SCHED_RESET_ON_FORK);
  // pid 0: the calling thread (Linux schedules threads, not processes).
  if (sched_setscheduler(0, policy, &param) == 0) return env.Null();
  return Napi::String::New(env, std::strerror(errno));
#else
  return Napi::String::New(env, "real-time scheduling is set only on Linux");
#endif
}

// nameThread(name): boolean — names the calling OS thread as `top -H`, `ps -L`, perf and
// /proc/PID/task/TID/comm show it, so an operator (and the bench's per-thread CPU split) can
// tell the front door, the lanes and the sealer apart; they are all "node" otherwise.
// Linux keeps 15 bytes: a longer name is cut there, at a character boundary for ASCII names.
Napi::Value NameThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "nameThread: name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.empty()) throw Napi::TypeError::New(env, "nameThread: name must not be empty");
#if defined(__linux__)
  if (name.size() > 15) name.resize(15);
  return Napi::Boolean::New(env, pthread_setname_np(pthread_self(), name.c_str()) == 0);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// keepFreedMemory(mmapThreshold, trimThreshold): boolean — process-wide glibc malloc tuning.
// lmdb allocates a large value's dirty pages with malloc on every put and frees them at
// commit; with glibc's defaults those blocks are mmap'd fresh, or trimmed back to the kernel
// when freed, so every seal faulted in and cleared its records' pages again (issue #10:
// a fifth of the sealer's time). Fixed thresholds keep such blocks in the heap for reuse.
// False when the C library is not glibc or refuses a value (glibc documents 32 MiB as the
// largest mmap threshold on 64-bit).
Napi::Value KeepFreedMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t mmapAt = IndexArg(info, 0, "keepFreedMemory: mmapThreshold");
  uint64_t trimAt = IndexArg(info, 1, "keepFreedMemory: trimThreshold");
  if (mmapAt > INT32_MAX || trimAt > INT32_MAX) throw Napi::RangeError::New(env, "keepFreedMemory: thresholds must be below 2^31");
#if defined(__GLIBC__)
  bool mmapSet = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmapAt)) == 1;
  bool trimSet = mallopt(M_TRIM_THRESHOLD, static_cast<int>(trimAt)) == 1;
  return Napi::Boolean::New(env, mmapSet && trimSet);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// dropFileCache(fd): boolean — asks the kernel to drop the file's clean cached pages
// (posix_fadvise DONTNEED; dirty pages are left alone). The store is written once and
// rarely read back, and on the machine issue #10 was measured on, writing into page-cache
// pages never used before cost 2.6 s of kernel time per GiB against 0.2 s for pages freed
// a moment earlier: dropping what a durable seal wrote hands the next seal warm pages.
Napi::Value DropFileCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t fd = IndexArg(info, 0, "dropFileCache: fd");
  if (fd > INT32_MAX) throw Napi::RangeError::New(env, "dropFileCache: fd must be below 2^31");
#if defined(POSIX_FADV_DONTNEED)
  return Napi::Boolean::New(env, posix_fadvise(static_cast<int>(fd), 0, 0, POSIX_FADV_DONTNEED) == 0);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// tryLockFile(fd): boolean — an exclusive flock(2) on an open file, without waiting. False
// when another open file description holds it (another process, or the same process
// through another open()); the kernel drops the lock when the holder closes the file or
// dies, even of SIGKILL, so a crashed gateway never leaves a stale lock behind.
Napi::Value TryLockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "tryLockFile: fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  throw Napi::Error::New(env, std::string("tryLockFile: flock failed: ") + std::strerror(errno));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("tryLockFile", Napi::Function::New(env, TryLockFile, "tryLockFile"));
  exports.Set("dropFileCache", Napi::Function::New(env, DropFileCache, "dropFileCache"));
  exports.Set("keepFreedMemory", Napi::Function::New(env, KeepFreedMemory, "keepFreedMemory"));
  exports.Set("setThreadNice", Napi::Function::New(env, SetThreadNice, "setThreadNice"));
  exports.Set("pinThread", Napi::Function::New(env, PinThread, "pinThread"));
  exports.Set("setThreadRealtime", Napi::Function::New(env, SetThreadRealtime, "setThreadRealtime"));
  exports.Set("nameThread", Napi::Function::New(env, NameThread, "nameThread"));
  exports.Set("sha256Spans", Napi::Function::New(env, Sha256Spans, "sha256Spans"));
  exports.Set("gatherSpans", Napi::Function::New(env, GatherSpans, "gatherSpans"));
  exports.Set("copyBytes", Napi::Function::New(env, CopyBytes, "copyBytes"));
  exports.Set("merkleRoot", Napi::Function::New(env, MerkleRoot, "merkleRoot"));
  exports.Set("blockBody", Napi::Function::New(env, BlockBody, "blockBody"));
  exports.Set("sha256", Napi::Function::New(env, Sha256One, "sha256"));
  RegisterLoopTurns(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(chainlanes_native, Init)
