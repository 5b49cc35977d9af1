// PostgresCloudStore's retries on a real server: a write whose COMMIT landed but whose
// reply was lost (a relay between the store and the server drops the reply to COMMIT
// and closes the connection) is run again and changes nothing the second time, or is
// refused as ambiguous when running it again would apply it twice; placements whose
// candidate stores come in opposite orders wait for each other instead of deadlocking.
// Every retry shows in cloud_pg_retries_total{reason}.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cloud/storage/cloud_store.hpp"
#include "common/metrics/metrics.hpp"
#include "tests/harness/net.hpp"
#include "tests/harness/postgres_server.hpp"
#include "tests/harness/unique_fd.hpp"

namespace shopeasy::cloud::storage {
namespace {

using namespace std::chrono_literals;
using shopeasy::testing::PostgresServer;
using shopeasy::testing::UniqueFd;

constexpr std::int64_t kNow = 1'795'000'000'000;

#define ASSERT_OK(expr)                                                      \
  do {                                                                       \
    const ::shopeasy::Status assert_ok_status_ = (expr);                     \
    ASSERT_TRUE(assert_ok_status_.is_ok()) << assert_ok_status_.to_string(); \
  } while (false)

template <typename T>
T value_of(StatusOr<T> result, const char* what) {
  if (!result.ok()) {
    ADD_FAILURE() << what << ": " << result.status().to_string();
    return T{};
  }
  return std::move(result).value();
}
#define VALUE(expr) value_of((expr), #expr)

// Writes all of `data` to a (possibly non-blocking) socket; false when it closed.
bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
    } else {
      return false;
    }
  }
  return true;
}

// A loopback TCP relay to the server. Once armed, the next client message holding the
// marker (by default a simple-protocol COMMIT; a prepared statement's name marks its
// execution, committed on its own outside a transaction) is passed on, the server's
// reply to it (sent once it committed) is swallowed, and both sides of that connection
// are closed: the client sees its connection drop with the outcome unknown, though the
// transaction is durable.
class CommitCutter {
 public:
  static std::unique_ptr<CommitCutter> start(int upstream_port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd.get(), 16) != 0) {
      return nullptr;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    std::unique_ptr<CommitCutter> cutter(
        new CommitCutter(std::move(fd), ntohs(addr.sin_port), upstream_port));
    cutter->acceptor_ = std::thread([c = cutter.get()] { c->accept_loop(); });
    return cutter;
  }
  ~CommitCutter() {
    stop_.store(true);
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard lock(mutex_);
    for (std::thread& t : pumps_) t.join();
  }
  CommitCutter(const CommitCutter&) = delete;
  CommitCutter& operator=(const CommitCutter&) = delete;

  int port() const { return port_; }
  void arm(std::string marker = std::string("COMMIT\0", 7)) {
    {
      std::lock_guard lock(mutex_);
      marker_ = std::move(marker);
    }
    armed_.store(true);
  }
  // Commits whose reply was swallowed so far.
  int cut() const { return cut_.load(); }

 private:
  CommitCutter(UniqueFd listener, int port, int upstream_port)
      : listener_(std::move(listener)), port_(port), upstream_port_(upstream_port) {}

  void accept_loop() {
    while (!stop_.load()) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!client.valid()) continue;
      StatusOr<UniqueFd> upstream = shopeasy::testing::connect_tcp("127.0.0.1", upstream_port_, 5s);
      if (!upstream.ok()) continue;
      std::lock_guard lock(mutex_);
      pumps_.emplace_back([this, c = std::move(client), u = std::move(*upstream)]() mutable {
        pump(std::move(c), std::move(u));
      });
    }
  }

  void pump(UniqueFd client, UniqueFd upstream) {
    bool doomed = false;
    char buffer[65536];
    while (!stop_.load()) {
      pollfd p[2] = {{client.get(), POLLIN, 0}, {upstream.get(), POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      if (p[0].revents != 0) {
        const ssize_t n = ::recv(client.get(), buffer, sizeof buffer, 0);
        if (n <= 0) return;
        if (armed_.load()) {
          std::lock_guard lock(mutex_);
          if (std::string_view(buffer, static_cast<std::size_t>(n)).find(marker_) !=
              std::string_view::npos) {
            armed_.store(false);
            doomed = true;
          }
        }
        if (!send_all(upstream.get(), buffer, static_cast<std::size_t>(n))) return;
      }
      if (p[1].revents != 0) {
        const ssize_t n = ::recv(upstream.get(), buffer, sizeof buffer, 0);
        if (n <= 0) return;
        if (doomed) {
          // The server has answered the COMMIT: it is durable. The client never hears.
          ++cut_;
          return;  // both sockets close here
        }
        if (!send_all(client.get(), buffer, static_cast<std::size_t>(n))) return;
      }
    }
  }

  UniqueFd listener_;
  const int port_;
  const int upstream_port_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> armed_{false};
  std::atomic<int> cut_{0};
  std::mutex mutex_;
  std::vector<std::thread> pumps_;  // guarded by mutex_
  std::string marker_;              // guarded by mutex_
  std::thread acceptor_;
};

// cloud_pg_retries_total{reason="<reason>"} as rendered, or -1 if absent.
std::int64_t retries(const metrics::Registry& registry, const std::string& reason) {
  const std::string text = registry.render();
  const std::string key = "cloud_pg_retries_total{reason=\"" + reason + "\"} ";
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + key.size()));
}

StoreRegistration store_reg(const std::string& id) {
  return StoreRegistration{.id = id,
                           .name = "Store " + id,
                           .lat = 12.9716,
                           .lon = 77.6412,
                           .service_radius_m = 2500,
                           .opening_hours = nlohmann::json::object(),
                           .secret_sha256 = std::string(64, 'a'),
                           .active = true};
}

CatalogItem catalog_item(const std::string& sku, std::int64_t price) {
  return CatalogItem{.sku = sku,
                     .name = "Item " + sku,
                     .category = "dairy",
                     .price_cents = price,
                     .unit = "each",
                     .barcodes = {},
                     .active = true};
}

Change stock(std::int64_t seq, const std::string& sku, std::int64_t on_hand) {
  return Change{.seq = seq,
                .kind = "stock.changed",
                .body = {{"sku", sku},
                         {"sku_on_hand", on_hand},
                         {"sku_reserved", 0},
                         {"sku_available", on_hand},
                         {"version", seq}}};
}

NewOrder new_order(const std::string& id, std::vector<std::string> skus,
                   std::vector<std::string> candidates, const std::string& key) {
  wire::Order o;
  o.order_id = id;
  o.customer_id = "alice";
  for (const std::string& sku : skus) {
    o.lines.push_back(wire::OrderLine{.sku = sku, .qty = 1, .unit_price_cents = 100});
  }
  o.delivery = {.lat = 12.97, .lon = 77.64, .geohash = std::nullopt};
  o.promised_at_ms = o.created_at_ms = o.updated_at_ms = kNow;
  o.total_cents = 100 * static_cast<std::int64_t>(skus.size());
  return NewOrder{.order = o,
                  .candidates = std::move(candidates),
                  .promised_at_ms = {},
                  .payment_due_ms = kNow + 60'000,
                  .idempotency_key = key,
                  .request_hash = "h"};
}

std::int64_t held(CloudStore& store, const std::string& store_id, const std::string& sku) {
  std::vector<Availability> rows = VALUE(store.availability(store_id, {sku}));
  return rows.empty() ? -1 : rows[0].held;
}

class PostgresRetryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<PostgresServer> started = PostgresServer::start({.settings = {"fsync=off"}});
    ASSERT_TRUE(started.ok()) << started.status().to_string();
    server_ = new PostgresServer(std::move(*started));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    static int databases = 0;
    db_ = "retry_" + std::to_string(++databases);
    ASSERT_OK(server_->create_database(db_));
  }

  // A store on the database, directly or through `port` (a relay), counting into `m`.
  std::unique_ptr<CloudStore> open(metrics::Registry& m, int port = 0, int pool = 2) {
    const std::string dsn =
        "host=127.0.0.1 port=" + std::to_string(port == 0 ? server_->port() : port) +
        " dbname=" + db_ + " user=" + server_->user() + " sslmode=disable";
    StatusOr<std::unique_ptr<CloudStore>> opened = open_postgres_store(dsn, pool, &m);
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  static PostgresServer* server_;
  std::string db_;
};

PostgresServer* PostgresRetryTest::server_ = nullptr;

TEST_F(PostgresRetryTest, WritesRunAgainAfterALostCommitReplyChangeNothing) {
  std::unique_ptr<CommitCutter> cutter = CommitCutter::start(server_->port());
  ASSERT_NE(cutter, nullptr);
  metrics::Registry m;
  std::unique_ptr<CloudStore> store = open(m, cutter->port(), 1);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->migrate());
  ASSERT_OK(store->upsert_store(store_reg("s1")));
  ASSERT_EQ(VALUE(store->upsert_catalog_item(catalog_item("MILK", 6500))), 1);
  ASSERT_EQ(VALUE(store->apply_batch("s1", {stock(1, "MILK", 10)}, kNow)).acked_seq, 1);
  EXPECT_EQ(retries(m, "connection"), 0);

  // Catalog: the price change lands once; the run after the lost reply finds it stored.
  cutter->arm();
  EXPECT_EQ(VALUE(store->upsert_catalog_item(catalog_item("MILK", 6900))), 2);
  EXPECT_EQ(cutter->cut(), 1);
  EXPECT_EQ(retries(m, "connection"), 1);
  EXPECT_EQ(VALUE(store->get_catalog_item("MILK"))->version, 2);
  std::vector<DownstreamItem> queued = VALUE(store->downstream("s1", 0, 100));
  ASSERT_EQ(queued.size(), 2u);
  EXPECT_EQ(queued[1].body["version"], 2);

  // Placement with a key: the second run finds the first's record; stock is held once.
  cutter->arm();
  PlaceResult placed =
      VALUE(store->place_order(new_order("o-1", {"MILK", "MILK"}, {"s1"}, "key-1"), kNow));
  EXPECT_EQ(cutter->cut(), 2);
  EXPECT_EQ(retries(m, "connection"), 2);
  ASSERT_TRUE(placed.earlier.has_value());
  EXPECT_EQ(placed.earlier->order_id, "o-1");
  EXPECT_EQ(held(*store, "s1", "MILK"), 2);
  EXPECT_EQ(VALUE(store->order_events("o-1", 0, 10)).size(), 1u);

  // Cancelling: the second run sees it done and answers with the order, not a refusal.
  cutter->arm();
  StatusOr<OrderRecord> cancelled = store->act_on_order(
      "o-1",
      OrderActionRequest{.action = OrderAction::kCancel, .reason = "", .accept_window_ms = 0},
      kNow + 1);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().to_string();
  EXPECT_EQ(cutter->cut(), 3);
  EXPECT_EQ(cancelled->order.status, wire::OrderStatus::kCancelled);
  EXPECT_EQ(held(*store, "s1", "MILK"), 0);
  EXPECT_EQ(VALUE(store->order_events("o-1", 0, 10)).size(), 2u);  // placed, cancelled

  // A downstream item would be queued twice: not run again, and the caller is told the
  // outcome is unknown. (The first call prepares the statement on this connection, so
  // the marked message of the second is its execution.)
  ASSERT_EQ(VALUE(store->enqueue_downstream("s1", "order", {{"id", "o-8"}})), 3);
  cutter->arm(std::string("enqueue\0", 8));
  StatusOr<std::int64_t> enqueued = store->enqueue_downstream("s1", "order", {{"id", "o-9"}});
  EXPECT_EQ(enqueued.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(enqueued.status().message().find("may or may not have been applied"), std::string::npos)
      << enqueued.status().to_string();
  EXPECT_EQ(cutter->cut(), 4);
  EXPECT_EQ(retries(m, "connection"), 3);
  EXPECT_EQ(VALUE(store->downstream("s1", 0, 100)).size(), 4u);  // it did land, once
  EXPECT_EQ(retries(m, "deadlock"), 0);
  EXPECT_EQ(retries(m, "serialization"), 0);
}

// Two instances place orders over the same SKUs with their candidate stores (and lines)
// in opposite orders. The first candidate lacks a line, so each placement takes rows at
// both stores: without one global lock order the two meet crosswise and the server
// kills one as a deadlock.
TEST_F(PostgresRetryTest, PlacementsOverTheSameStoresInOppositeOrdersNeverDeadlock) {
  metrics::Registry m1, m2;
  std::unique_ptr<CloudStore> one = open(m1, 0, 2);
  std::unique_ptr<CloudStore> two = open(m2, 0, 2);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  ASSERT_OK(one->migrate());
  const std::vector<std::string> skus = {"SKU-1", "SKU-2", "SKU-3", "SKU-4"};
  for (const std::string id : {"sa", "sb"}) {
    ASSERT_OK(one->upsert_store(store_reg(id)));
    std::vector<Change> changes;
    for (std::size_t i = 0; i < skus.size(); ++i) {
      // SKU-4 is out at both: every placement tries both stores and gets nowhere.
      changes.push_back(stock(static_cast<std::int64_t>(i) + 1, skus[i], i == 3 ? 0 : 100'000));
    }
    ASSERT_EQ(VALUE(one->apply_batch(id, changes, kNow)).acked_seq, 4);
  }
  constexpr int kPerThread = 150;
  std::atomic<int> placed{0}, short_of_stock{0}, failed{0};
  std::mutex mutex;  // guards first_error
  std::string first_error;
  auto run = [&](CloudStore& store, const std::string& tag, std::vector<std::string> candidates,
                 std::vector<std::string> lines) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = tag + std::to_string(i);
      StatusOr<PlaceResult> r = store.place_order(new_order(id, lines, candidates, id), kNow);
      if (!r.ok()) {
        ++failed;
        std::lock_guard lock(mutex);
        if (first_error.empty()) first_error = r.status().to_string();
      } else if (r->placed) {
        ++placed;
      } else {
        ++short_of_stock;
      }
    }
  };
  std::thread a(run, std::ref(*one), "a", std::vector<std::string>{"sa", "sb"}, skus);
  std::thread b(run, std::ref(*two), "b", std::vector<std::string>{"sb", "sa"},
                std::vector<std::string>(skus.rbegin(), skus.rend()));
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0) << first_error;
  EXPECT_EQ(placed.load(), 0);
  EXPECT_EQ(short_of_stock.load(), 2 * kPerThread);
  EXPECT_EQ(retries(m1, "deadlock") + retries(m2, "deadlock"), 0);
  for (const std::string id : {"sa", "sb"}) {
    for (const std::string& sku : skus) EXPECT_EQ(held(*one, id, sku), 0) << id << " " << sku;
  }

  // Now SKU-4 is at sa only: every placement ends there, whichever store it tries first.
  ASSERT_EQ(VALUE(one->apply_batch("sa", {stock(5, "SKU-4", 100'000)}, kNow)).acked_seq, 5);
  placed = 0;
  short_of_stock = 0;
  std::thread c(run, std::ref(*one), "c", std::vector<std::string>{"sa", "sb"}, skus);
  std::thread d(run, std::ref(*two), "d", std::vector<std::string>{"sb", "sa"},
                std::vector<std::string>(skus.rbegin(), skus.rend()));
  c.join();
  d.join();
  EXPECT_EQ(failed.load(), 0) << first_error;
  EXPECT_EQ(placed.load(), 2 * kPerThread);
  EXPECT_EQ(retries(m1, "deadlock") + retries(m2, "deadlock"), 0);
  for (const std::string& sku : skus) EXPECT_EQ(held(*one, "sa", sku), 2 * kPerThread) << sku;
  EXPECT_EQ(held(*one, "sb", "SKU-1"), 0);
}

// The store's own batch (a stock change, then "accepted" for an order, which releases
// its holds) meets the customer cancelling that same order and placing another over the
// same SKUs. The batch takes the store's row, then stock rows, then the order's row; the
// cancel takes the order's row, then the store's (to tell it), then stock rows; the
// placement takes stock rows in SKU order. None of them may deadlock.
TEST_F(PostgresRetryTest, StoreBatchesCancelsAndPlacementsOnOneStoreNeverDeadlock) {
  metrics::Registry m1, m2;
  std::unique_ptr<CloudStore> customer = open(m1, 0, 2);
  std::unique_ptr<CloudStore> sync = open(m2, 0, 2);
  ASSERT_NE(customer, nullptr);
  ASSERT_NE(sync, nullptr);
  ASSERT_OK(customer->migrate());
  ASSERT_OK(customer->upsert_store(store_reg("s1")));
  std::int64_t seq = 0;
  ASSERT_EQ(
      VALUE(sync->apply_batch(
                "s1", {stock(++seq, "SKU-1", 1'000'000), stock(++seq, "SKU-4", 1'000'000)}, kNow))
          .acked_seq,
      seq);
  constexpr int kRounds = 60;
  std::atomic<int> unavailable{0};
  std::mutex mutex;  // guards first_error
  std::string first_error;
  auto note = [&](const Status& st) {
    if (st.code() != StatusCode::kUnavailable) return;
    ++unavailable;
    std::lock_guard lock(mutex);
    if (first_error.empty()) first_error = st.to_string();
  };
  for (int round = 0; round < kRounds; ++round) {
    const std::string routed = "r-" + std::to_string(round);
    ASSERT_TRUE(
        VALUE(customer->place_order(new_order(routed, {"SKU-1", "SKU-4"}, {"s1"}, routed), kNow))
            .placed.has_value());
    ASSERT_TRUE(customer
                    ->act_on_order(routed,
                                   OrderActionRequest{.action = OrderAction::kPaymentSucceeded,
                                                      .reason = "",
                                                      .accept_window_ms = 60'000},
                                   kNow)
                    .ok());
    const std::int64_t first = seq + 1;
    seq += 2;
    std::thread store_side([&] {
      StatusOr<ApplyResult> applied = sync->apply_batch(
          "s1",
          {stock(first, "SKU-4", 1'000'000 + first),
           Change{.seq = first + 1,
                  .kind = "order.status",
                  .body = {{"order_id", routed}, {"status", "accepted"}, {"at_ms", kNow}}}},
          kNow);
      note(applied.status());
    });
    const std::string next = "p-" + std::to_string(round);
    note(customer->place_order(new_order(next, {"SKU-4", "SKU-1"}, {"s1"}, next), kNow).status());
    note(
        customer
            ->act_on_order(routed,
                           OrderActionRequest{
                               .action = OrderAction::kCancel, .reason = "", .accept_window_ms = 0},
                           kNow)
            .status());
    store_side.join();
  }
  EXPECT_EQ(unavailable.load(), 0) << first_error;
  EXPECT_EQ(retries(m1, "deadlock") + retries(m2, "deadlock"), 0);
  // Every routed order was accepted or cancelled, either way its holds are gone: what
  // is held is the placements' alone.
  EXPECT_EQ(held(*customer, "s1", "SKU-1"), kRounds);
  EXPECT_EQ(held(*customer, "s1", "SKU-4"), kRounds);
}

}  // namespace
}  // namespace shopeasy::cloud::storage
