// Locks the thread safety analysis understands. libstdc++'s std::mutex carries no
// capability attributes, so a member commented "guarded by mutex_" could be touched
// without the lock and nothing would notice; with these types the comment becomes
// GUARDED_BY(mutex_) and clang checks it (scripts/check-thread-safety.sh).
//
// Usage:
//   sync::Mutex mutex_;
//   int count_ GUARDED_BY(mutex_) = 0;
//   void bump() { sync::MutexLock lock(mutex_); ++count_; }
//
// Waiting: sync::CondVar waits on a Mutex the caller holds; write the predicate as a loop
// (`while (!ready_) cv_.wait(mutex_);`) so the analysis sees the guarded reads happen
// with the lock held (a predicate lambda would be analysed as a separate function).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "common/sync/thread_annotations.hpp"

namespace shopeasy::sync {

// An exclusive lock: std::mutex with the attributes that make it a capability.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }

  // Escape hatch for code that must hand a std::mutex to the standard library (a
  // std::unique_lock<std::mutex> for std::condition_variable). The analysis cannot see
  // locks taken through it, so prefer CondVar; a caller that uses it says why.
  std::mutex& native() RETURN_CAPABILITY(this) { return mutex_; }

 private:
  std::mutex mutex_;
};

// A reader/writer lock: std::shared_mutex as a capability. ReaderLock holds it shared,
// MutexLock exclusively.
class CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }
  void lock_shared() ACQUIRE_SHARED() { mutex_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mutex_.unlock_shared(); }
  bool try_lock_shared() TRY_ACQUIRE_SHARED(true) { return mutex_.try_lock_shared(); }

 private:
  std::shared_mutex mutex_;
};

// Holds a Mutex (or a SharedMutex exclusively) for its scope; unlock()/lock() let a
// caller step out of the lock for a while (a slow call) and come back before the scope
// ends. The destructor releases only when held.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : mutex_(&mutex) { mutex.lock(); }
  explicit MutexLock(SharedMutex& mutex) ACQUIRE(mutex) : shared_(&mutex) { mutex.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) release_now();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() RELEASE() {
    release_now();
    held_ = false;
  }
  void lock() ACQUIRE() {
    if (mutex_ != nullptr) {
      mutex_->lock();
    } else {
      shared_->lock();
    }
    held_ = true;
  }

 private:
  // The analysis tracks the scope as a whole; which member is set is invisible to it.
  void release_now() NO_THREAD_SAFETY_ANALYSIS {
    if (mutex_ != nullptr) {
      mutex_->unlock();
    } else {
      shared_->unlock();
    }
  }

  Mutex* mutex_ = nullptr;
  SharedMutex* shared_ = nullptr;
  bool held_ = true;
};

// Holds a SharedMutex shared for its scope: readers run together, a writer waits.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mutex) ACQUIRE_SHARED(mutex) : mutex_(mutex) {
    mutex.lock_shared();
  }
  ~ReaderLock() RELEASE() { mutex_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mutex_;
};

// A condition variable that waits on a sync::Mutex the caller holds. It uses
// std::condition_variable on the Mutex's native std::mutex (cheaper than
// std::condition_variable_any); the lock is adopted for the wait and handed back held, so
// to the analysis the caller holds it throughout, which is true on return.
class CondVar {
 public:
  void wait(Mutex& mutex) REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.native(), std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }

  template <class Clock, class Duration>
  std::cv_status wait_until(Mutex& mutex, const std::chrono::time_point<Clock, Duration>& deadline)
      REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.native(), std::adopt_lock);
    const std::cv_status status = cv_.wait_until(lock, deadline);
    lock.release();
    return status;
  }

  template <class Rep, class Period>
  std::cv_status wait_for(Mutex& mutex, const std::chrono::duration<Rep, Period>& timeout)
      REQUIRES(mutex) {
    return wait_until(mutex, std::chrono::steady_clock::now() + timeout);
  }

  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace shopeasy::sync
