#include "sdk/router/route_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

using Tuple = std::vector<RouteAttr>;
const RouteAttr kAbsent = RouteAttr::Absent();
RouteAttr Of(absl::string_view value) { return RouteAttr::Of(value); }

TEST(RouteCacheTest, FindsWhatWasInsertedAndTellsAbsentFromEmpty) {
  RouteCache<int> cache(8);
  const int a = 1, b = 2;
  const Tuple present = {Of("x"), kAbsent};
  const Tuple empty = {Of(""), kAbsent};
  const Tuple absent = {kAbsent, kAbsent};
  const Tuple split = {Of("a"), Of("bc")};
  const Tuple joined = {Of("ab"), Of("c")};
  EXPECT_EQ(cache.Find(HashRouteTuple(present), present), nullptr);
  ASSERT_TRUE(cache.Insert(HashRouteTuple(present), present, &a));
  ASSERT_TRUE(cache.Insert(HashRouteTuple(empty), empty, &b));
  EXPECT_EQ(cache.Find(HashRouteTuple(present), present), &a);
  EXPECT_EQ(cache.Find(HashRouteTuple(empty), empty), &b);
  EXPECT_EQ(cache.Find(HashRouteTuple(absent), absent), nullptr);
  EXPECT_NE(HashRouteTuple(empty), HashRouteTuple(absent));
  ASSERT_TRUE(cache.Insert(HashRouteTuple(split), split, &a));
  EXPECT_EQ(cache.Find(HashRouteTuple(split), split), &a);
  EXPECT_EQ(cache.Find(HashRouteTuple(joined), joined), nullptr);
}

TEST(RouteCacheTest, EntriesMatchTheirTupleOnly) {
  RouteCache<int> cache(8);
  const int a = 1, b = 2;
  const Tuple tuple = {Of("vip-7"), kAbsent, Of("version=1")};
  const RouteCache<int>::Entry* entry = cache.InsertEntry(HashRouteTuple(tuple), tuple, &a);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->result(), &a);
  EXPECT_EQ(cache.FindEntry(HashRouteTuple(tuple), tuple), entry);
  EXPECT_TRUE(entry->Matches(tuple));
  EXPECT_FALSE(entry->Matches(Tuple{Of("vip-8"), kAbsent, Of("version=1")}));
  EXPECT_FALSE(entry->Matches(Tuple{Of("vip-7"), Of(""), Of("version=1")}));
  EXPECT_FALSE(entry->Matches(Tuple{Of("vip-7"), kAbsent}));
  EXPECT_FALSE(entry->Matches(Tuple{Of("vip-7"), kAbsent, Of("version=2")}));
  // A second insert of the tuple keeps the first entry and its result.
  EXPECT_EQ(cache.InsertEntry(HashRouteTuple(tuple), tuple, &b), entry);
  EXPECT_EQ(cache.Find(HashRouteTuple(tuple), tuple), &a);
}

TEST(RouteCacheTest, StaysBounded) {
  RouteCache<int> cache(100);
  const int result = 7;
  std::vector<std::string> values;
  for (int i = 0; i < 1000; ++i) values.push_back("user-" + std::to_string(i));
  int stored = 0;
  for (const std::string& value : values) {
    const Tuple tuple = {Of(value)};
    stored += cache.Insert(HashRouteTuple(tuple), tuple, &result) ? 1 : 0;
  }
  EXPECT_EQ(stored, 100);
  EXPECT_EQ(cache.size(), 100u);
  const Tuple first = {Of(values[0])};
  EXPECT_EQ(cache.Find(HashRouteTuple(first), first), &result);
}

TEST(RouteCacheTest, ConcurrentReadersAndWriters) {
  RouteCache<int> cache(4096);
  ResultPool<int> pool;
  std::vector<std::string> values;
  for (int i = 0; i < 2000; ++i) values.push_back(std::to_string(i));
  std::atomic<int> wrong{0};
  auto worker = [&](int seed) {
    for (int round = 0; round < 3; ++round) {
      for (size_t i = seed; i < values.size(); i += 3) {
        const Tuple tuple = {Of(values[i])};
        const uint64_t hash = HashRouteTuple(tuple);
        const int* found = cache.Find(hash, tuple);
        if (found == nullptr) {
          const int fingerprint = static_cast<int>(i % 10);
          found = pool.Find(fingerprint, [&](const int& r) { return r == fingerprint; });
          if (found == nullptr) {
            auto fresh = std::make_unique<int>(fingerprint);
            found = pool.Add(fingerprint, fresh);
          }
          cache.Insert(hash, tuple, found);
        }
        if (*found != static_cast<int>(i % 10)) ++wrong;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t % 3);
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(cache.size(), values.size());
}

TEST(ResultPoolTest, SharesEqualResultsAndIsBounded) {
  ResultPool<std::string> pool(2);
  auto a = std::make_unique<std::string>("a");
  const std::string* pooled = pool.Add(1, a);
  ASSERT_NE(pooled, nullptr);
  EXPECT_EQ(pool.Find(1, [](const std::string& s) { return s == "a"; }), pooled);
  EXPECT_EQ(pool.Find(1, [](const std::string& s) { return s == "b"; }), nullptr);
  auto b = std::make_unique<std::string>("b");
  ASSERT_NE(pool.Add(2, b), nullptr);
  auto c = std::make_unique<std::string>("c");
  EXPECT_EQ(pool.Add(3, c), nullptr);
  EXPECT_NE(c, nullptr);  // handed back
}

}  // namespace
}  // namespace grpc_cpp_polaris
