// Clang's thread safety attributes, spelled once. Under clang with -Wthread-safety the
// compiler checks that a member marked GUARDED_BY(mu) is only touched with mu held and
// that a function marked REQUIRES(mu) is only called with it held; under GCC (the
// compiler the project builds with) every macro expands to nothing, so the annotations
// cost nothing there. scripts/check-thread-safety.sh runs the check.
#pragma once

#if defined(__clang__)
#define SHOPEASY_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SHOPEASY_THREAD_ANNOTATION(x)
#endif

// A type whose objects are locks (Mutex, SharedMutex).
#define CAPABILITY(name) SHOPEASY_THREAD_ANNOTATION(capability(name))
// An RAII type that holds a lock from construction to destruction (MutexLock).
#define SCOPED_CAPABILITY SHOPEASY_THREAD_ANNOTATION(scoped_lockable)
// The member may be read or written only with the lock held (shared suffices to read).
#define GUARDED_BY(x) SHOPEASY_THREAD_ANNOTATION(guarded_by(x))
// What the pointer points to is guarded; the pointer itself is not.
#define PT_GUARDED_BY(x) SHOPEASY_THREAD_ANNOTATION(pt_guarded_by(x))
// The caller must hold the lock (exclusively / at least shared).
#define REQUIRES(...) SHOPEASY_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SHOPEASY_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// The caller must not hold the lock: the function takes it itself.
#define EXCLUDES(...) SHOPEASY_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// The function takes (or gives back) the lock and returns (or was called) with it held.
#define ACQUIRE(...) SHOPEASY_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SHOPEASY_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SHOPEASY_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SHOPEASY_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
// Takes the lock only when it returns `result`.
#define TRY_ACQUIRE(...) SHOPEASY_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) \
  SHOPEASY_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
// After the call the analysis takes the lock as held (the function checks that it is).
#define ASSERT_CAPABILITY(x) SHOPEASY_THREAD_ANNOTATION(assert_capability(x))
// The function returns a reference to the given lock (lets the analysis follow it).
#define RETURN_CAPABILITY(x) SHOPEASY_THREAD_ANNOTATION(lock_returned(x))
// Opts one function out; each use says why the analysis cannot follow it.
#define NO_THREAD_SAFETY_ANALYSIS SHOPEASY_THREAD_ANNOTATION(no_thread_safety_analysis)
