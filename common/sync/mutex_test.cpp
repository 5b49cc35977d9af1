#include "common/sync/mutex.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace shopeasy::sync {
namespace {

// Whether another thread could take the lock right now (exclusive or shared). The
// test-and-release is written as `if (try_lock())` so the analysis can follow it.
template <class M>
bool lockable_elsewhere(M& mutex) {
  bool taken = false;
  std::thread other([&] {
    if (mutex.try_lock()) {
      mutex.unlock();
      taken = true;
    }
  });
  other.join();
  return taken;
}

bool shareable_elsewhere(SharedMutex& mutex) {
  bool taken = false;
  std::thread other([&] {
    if (mutex.try_lock_shared()) {
      mutex.unlock_shared();
      taken = true;
    }
  });
  other.join();
  return taken;
}

// A counter in the shape the converted modules use: guarded member, locked methods.
class Counter {
 public:
  void add(int n) EXCLUDES(mutex_) {
    MutexLock lock(mutex_);
    value_ += n;
  }
  int value() EXCLUDES(mutex_) {
    MutexLock lock(mutex_);
    return value_;
  }

 private:
  Mutex mutex_;
  int value_ GUARDED_BY(mutex_) = 0;
};

TEST(MutexTest, ExcludesConcurrentWriters) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < 10000; ++i) counter.add(1);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 40000);
}

TEST(MutexTest, TryLockFailsWhileHeldElsewhere) {
  Mutex mutex;
  MutexLock lock(mutex);
  EXPECT_FALSE(lockable_elsewhere(mutex));
}

TEST(MutexTest, MutexLockCanStepOutAndBack) {
  Mutex mutex;
  MutexLock lock(mutex);
  lock.unlock();
  EXPECT_TRUE(lockable_elsewhere(mutex));
  lock.lock();
  EXPECT_FALSE(lockable_elsewhere(mutex));
}  // the destructor releases the re-taken lock once

TEST(SharedMutexTest, ReadersShareWritersExclude) {
  SharedMutex mutex;
  {
    ReaderLock first(mutex);
    EXPECT_TRUE(shareable_elsewhere(mutex));
    EXPECT_FALSE(lockable_elsewhere(mutex));
  }
  {
    MutexLock exclusive(mutex);
    EXPECT_FALSE(shareable_elsewhere(mutex));
  }
  EXPECT_TRUE(lockable_elsewhere(mutex));
}

TEST(CondVarTest, WaitReturnsHoldingTheLockOnceNotified) {
  Mutex mutex;
  CondVar cv;
  bool ready = false;  // guarded by mutex (a local cannot carry GUARDED_BY)
  std::thread producer([&] {
    MutexLock lock(mutex);
    ready = true;
    cv.notify_all();
  });
  {
    MutexLock lock(mutex);
    while (!ready) cv.wait(mutex);
    EXPECT_FALSE(lockable_elsewhere(mutex));
  }
  producer.join();
}

TEST(CondVarTest, WaitForTimesOutAndHandsTheLockBack) {
  Mutex mutex;
  CondVar cv;
  MutexLock lock(mutex);
  EXPECT_EQ(cv.wait_for(mutex, std::chrono::milliseconds(5)), std::cv_status::timeout);
  EXPECT_FALSE(lockable_elsewhere(mutex));
}

}  // namespace
}  // namespace shopeasy::sync
