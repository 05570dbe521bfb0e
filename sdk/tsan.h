// Orderings ThreadSanitizer cannot see, made visible to it.
//
// Debian's gRPC is not built with -fsanitize=thread, so the synchronization
// by which it hands our objects from one of its threads to another (a
// reactor's callbacks, a work serializer's closures, a picker published to
// the data plane) happens where TSan does not look, and it would report
// those hand-offs as races in our code. Rather than suppressing every report
// that passes through gRPC (which also hides real races in our code), the
// places that rely on such an ordering say so: the side that hands over
// calls TsanRelease(key) before giving the object to gRPC, the side that
// receives calls TsanAcquire(key) first thing. Without TSan both are no-ops
// the compiler removes.
#ifndef GRPC_CPP_POLARIS_SDK_TSAN_H_
#define GRPC_CPP_POLARIS_SDK_TSAN_H_

#if defined(__SANITIZE_THREAD__)
#define GRPC_CPP_POLARIS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GRPC_CPP_POLARIS_TSAN 1
#endif
#endif

#ifdef GRPC_CPP_POLARIS_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace grpc_cpp_polaris {

// Everything this thread did so far happens before whatever follows a later
// TsanAcquire(key) on any thread.
inline void TsanRelease(const void* key) {
#ifdef GRPC_CPP_POLARIS_TSAN
  __tsan_release(const_cast<void*>(key));
#else
  (void)key;
#endif
}

inline void TsanAcquire(const void* key) {
#ifdef GRPC_CPP_POLARIS_TSAN
  __tsan_acquire(const_cast<void*>(key));
#else
  (void)key;
#endif
}

// The key of the sections gRPC runs on channels' work serializers (the
// resolver's and the LB policy's *Locked methods). A global: entering a
// section must not read memory another thread wrote (such as the object's
// own pointer to its serializer) before the ordering is established.
inline char tsan_work_serializer_key = 0;

// Marks a section that gRPC runs serialized with the others of `key` (a
// work serializer's closures, a reactor's callbacks): each such section
// happens after the ones that ended before it started.
class TsanSerialized {
 public:
  explicit TsanSerialized(const void* key) : key_(key) { TsanAcquire(key_); }
  ~TsanSerialized() { TsanRelease(key_); }
  TsanSerialized(const TsanSerialized&) = delete;
  TsanSerialized& operator=(const TsanSerialized&) = delete;

 private:
  const void* key_;
};

// A reaction gRPC runs after an operation an object started (a reactor's
// OnReadDone after StartRead): it follows what happened before the
// operation started (TsanRelease(started) there), and what it does happens
// before the object's OnDone (TsanAcquire(done) there).
class TsanReaction {
 public:
  TsanReaction(const void* started, const void* done) : done_(done) { TsanAcquire(started); }
  ~TsanReaction() { TsanRelease(done_); }
  TsanReaction(const TsanReaction&) = delete;
  TsanReaction& operator=(const TsanReaction&) = delete;

 private:
  const void* done_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_TSAN_H_
