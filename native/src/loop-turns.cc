// The calling thread's event-loop turns, measured: how long each turn kept the thread busy
// (wall time less the time libuv spent waiting in epoll), how much CPU the thread used in
// it, and what JavaScript counted in it (src/defence/turn-meter.ts names the counts).
//
// A uv_check handle runs once per loop iteration, right after the poll phase, and never
// wakes the loop by itself (unlike a timer or setImmediate): an idle thread stays asleep.
// Each check closes the turn that began at the previous check: everything the thread did in
// between (timers, I/O callbacks — uWS's reads and every callback into JavaScript they make
// —, setImmediate, closes) less libuv's idle time (uv_metrics_idle_time, kept because Node
// turns on UV_METRICS_IDLE_TIME for every loop: eventLoopUtilization reads it).
//
// The slots are a Float64Array owned by JavaScript; the layout, in this order:
//   header  [TURNS, BUSY_NS, CPU_NS, LONGEST_BUSY_NS, LONGEST_CPU_NS, RECORDS_WRITTEN]  (written here)
//   buckets bounds + 1 counts of turns by busy time, non-cumulative                      (written here)
//   counts  `counts` slots JavaScript adds to during a turn; zeroed here when it ends    (JS adds, here zeroes)
//   records `records` × (3 + counts): [endedAtMs (uv_hrtime), busyNs, cpuNs, counts…]     (written here)
// A record is written for each turn busy at least `recordNs`, into the ring at
// RECORDS_WRITTEN % records. Everything runs on the one thread, so no slot needs atomics.
#include <napi.h>
#include <uv.h>

#include <time.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kHeader = 6;
constexpr size_t kRecordHead = 3;
enum Header { kTurns = 0, kBusyNs, kCpuNs, kLongestBusyNs, kLongestCpuNs, kRecordsWritten };

uint64_t ThreadCpuNs() {
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct LoopTurns {
  uv_check_t check;
  uv_loop_t* loop = nullptr;
  napi_env env = nullptr;
  napi_ref slotsRef = nullptr;
  double* slots = nullptr;
  std::vector<double> boundsNs;
  size_t counts = 0;
  size_t records = 0;
  double recordNs = 0;
  uint64_t lastWall = 0;
  uint64_t lastIdle = 0;
  uint64_t lastCpu = 0;

  double* Buckets() { return slots + kHeader; }
  double* Counts() { return Buckets() + boundsNs.size() + 1; }
  double* Records() { return Counts() + counts; }
};

// One per thread: a thread measures its own loop.
thread_local LoopTurns* current = nullptr;

void OnCheck(uv_check_t* handle) {
  LoopTurns* t = static_cast<LoopTurns*>(handle->data);
  uint64_t wall = uv_hrtime();
  uint64_t idle = uv_metrics_idle_time(t->loop);
  uint64_t cpu = ThreadCpuNs();
  uint64_t span = wall - t->lastWall;
  uint64_t waited = idle - t->lastIdle;
  double busy = span > waited ? static_cast<double>(span - waited) : 0;
  double used = cpu >= t->lastCpu ? static_cast<double>(cpu - t->lastCpu) : 0;
  t->lastWall = wall;
  t->lastIdle = idle;
  t->lastCpu = cpu;
  double* s = t->slots;
  s[kTurns] += 1;
  s[kBusyNs] += busy;
  s[kCpuNs] += used;
  if (busy > s[kLongestBusyNs]) {
    s[kLongestBusyNs] = busy;
    s[kLongestCpuNs] = used;
  }
  size_t bucket = 0;
  while (bucket < t->boundsNs.size() && busy > t->boundsNs[bucket]) bucket++;
  t->Buckets()[bucket] += 1;
  double* counts = t->Counts();
  if (busy >= t->recordNs && t->records > 0) {
    size_t width = kRecordHead + t->counts;
    double* r = t->Records() + (static_cast<uint64_t>(s[kRecordsWritten]) % t->records) * width;
    r[0] = static_cast<double>(wall) / 1e6;
    r[1] = busy;
    r[2] = used;
    std::memcpy(r + kRecordHead, counts, t->counts * sizeof(double));
    s[kRecordsWritten] += 1;
  }
  std::memset(counts, 0, t->counts * sizeof(double));
}

void OnClosed(uv_handle_t* handle) {
  delete static_cast<LoopTurns*>(handle->data);
}

// Stops the thread's measurement: the slots are let go, the handle closed (and freed once closed).
void Stop(LoopTurns* t) {
  if (t == nullptr) return;
  if (current == t) current = nullptr;
  uv_check_stop(&t->check);
  if (t->slotsRef != nullptr) napi_delete_reference(t->env, t->slotsRef);
  t->slotsRef = nullptr;
  t->slots = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&t->check), OnClosed);
}

void CleanupHook(void* arg) {
  Stop(static_cast<LoopTurns*>(arg));
}

// watchLoopTurns(slots: Float64Array, boundsNs: Float64Array, counts, records, recordNs): boolean
// Starts measuring the calling thread's loop into `slots` (see the layout above), replacing
// any measurement the thread had. False when libuv keeps no idle time for this loop.
Napi::Value WatchLoopTurns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "watchLoopTurns: slots must be a Float64Array");
  }
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "watchLoopTurns: boundsNs must be a Float64Array");
  }
  for (size_t i = 2; i < 5; i++) {
    if (!info[i].IsNumber() || info[i].As<Napi::Number>().DoubleValue() < 0) {
      throw Napi::TypeError::New(env, "watchLoopTurns: counts, records and recordNs must be non-negative numbers");
    }
  }
  Napi::Float64Array slots = info[0].As<Napi::Float64Array>();
  Napi::Float64Array bounds = info[1].As<Napi::Float64Array>();
  size_t counts = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  size_t records = static_cast<size_t>(info[3].As<Napi::Number>().DoubleValue());
  size_t needed = kHeader + bounds.ElementLength() + 1 + counts + records * (kRecordHead + counts);
  if (slots.ElementLength() != needed) {
    throw Napi::RangeError::New(env, "watchLoopTurns: slots must hold exactly " + std::to_string(needed) + " values for these bounds, counts and records");
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Napi::Boolean::New(env, false);

  if (current != nullptr) {
    napi_remove_env_cleanup_hook(env, CleanupHook, current);
    Stop(current);
  }
  LoopTurns* t = new LoopTurns();
  t->loop = loop;
  t->env = env;
  t->slots = slots.Data();
  t->boundsNs.assign(bounds.Data(), bounds.Data() + bounds.ElementLength());
  t->counts = counts;
  t->records = records;
  t->recordNs = info[4].As<Napi::Number>().DoubleValue();
  std::memset(t->slots, 0, needed * sizeof(double));
  napi_create_reference(env, slots, 1, &t->slotsRef);
  uv_check_init(loop, &t->check);
  t->check.data = t;
  t->lastWall = uv_hrtime();
  t->lastIdle = uv_metrics_idle_time(loop);
  t->lastCpu = ThreadCpuNs();
  uv_check_start(&t->check, OnCheck);
  // Measuring must not keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&t->check));
  napi_add_env_cleanup_hook(env, CleanupHook, t);
  current = t;
  return Napi::Boolean::New(env, true);
}

// unwatchLoopTurns(): void — stops the calling thread's measurement, if any.
Napi::Value UnwatchLoopTurns(const Napi::CallbackInfo& info) {
  if (current != nullptr) {
    napi_remove_env_cleanup_hook(info.Env(), CleanupHook, current);
    Stop(current);
  }
  return info.Env().Undefined();
}

}  // namespace

void RegisterLoopTurns(Napi::Env env, Napi::Object exports) {
  exports.Set("watchLoopTurns", Napi::Function::New(env, WatchLoopTurns, "watchLoopTurns"));
  exports.Set("unwatchLoopTurns", Napi::Function::New(env, UnwatchLoopTurns, "unwatchLoopTurns"));
}
