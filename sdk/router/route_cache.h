// Routing results per kind of call, for the pick path: a bounded, lock-free
// map from the tuple of call attributes the router chain reads (RouteKeys:
// the path, some headers, labels, lane; each present or not) to a result
// computed once with this picker's view.
//
// Find() takes no lock and allocates nothing: it hashes the tuple, probes a
// fixed array of atomic slots and compares stored values as string_views.
// Insert() allocates the entry and publishes it with one compare-and-swap;
// concurrent misses of one tuple may both compute, and the first insert wins
// (the loser's result is still correct for its own call). Once `max_entries`
// entries are stored, new tuples are computed on each call and not stored,
// so memory stays bounded whatever calls present.
//
// Results are pooled: tuples that route to the same candidates share one
// result (see ResultPool), so a service with 100,000 instances and many label
// combinations holds one copy per distinct candidate set.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_ROUTE_CACHE_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_ROUTE_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace grpc_cpp_polaris {

// One call's attributes, in RouteKeys order; nullopt where absent.
using RouteTuple = absl::Span<const std::optional<absl::string_view>>;

inline uint64_t HashRouteTuple(RouteTuple tuple) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over (presence, length, bytes)
  auto mix = [&hash](uint64_t byte) { hash = (hash ^ byte) * 0x100000001b3ULL; };
  for (const std::optional<absl::string_view>& value : tuple) {
    mix(value.has_value() ? 1 : 0);
    if (!value.has_value()) continue;
    mix(value->size() & 0xff);
    mix(value->size() >> 8);
    for (unsigned char c : *value) mix(c);
  }
  // Final avalanche (splitmix64), so low bits index slots well.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  return hash ^ (hash >> 31);
}

template <typename Result>
class RouteCache {
 public:
  explicit RouteCache(size_t max_entries = 4096, size_t max_probes = 16)
      : max_entries_(max_entries), max_probes_(max_probes) {
    size_t slots = 1;
    while (slots < 2 * max_entries) slots <<= 1;
    mask_ = slots - 1;
    slots_ = std::make_unique<std::atomic<const Entry*>[]>(slots);
    for (size_t i = 0; i < slots; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
  }
  ~RouteCache() {
    for (size_t i = 0; i <= mask_; ++i) delete slots_[i].load(std::memory_order_relaxed);
  }
  RouteCache(const RouteCache&) = delete;
  RouteCache& operator=(const RouteCache&) = delete;

  // The result stored for `tuple`, or null.
  const Result* Find(uint64_t hash, RouteTuple tuple) const {
    for (size_t probe = 0; probe < max_probes_; ++probe) {
      const Entry* entry = slots_[(hash + probe) & mask_].load(std::memory_order_acquire);
      if (entry == nullptr) return nullptr;
      if (entry->hash == hash && entry->Matches(tuple)) return entry->result;
    }
    return nullptr;
  }

  // Stores `result` (owned elsewhere, e.g. by a ResultPool that outlives
  // the cache's readers) for `tuple`. Returns false when the cache is full.
  bool Insert(uint64_t hash, RouteTuple tuple, const Result* result) {
    if (entries_.load(std::memory_order_relaxed) >= max_entries_) return false;
    auto entry = std::make_unique<Entry>();
    entry->hash = hash;
    entry->result = result;
    entry->values.reserve(tuple.size());
    for (const auto& value : tuple) {
      entry->values.push_back(value.has_value() ? std::optional<std::string>(std::string(*value))
                                                : std::nullopt);
    }
    for (size_t probe = 0; probe < max_probes_; ++probe) {
      std::atomic<const Entry*>& slot = slots_[(hash + probe) & mask_];
      const Entry* current = slot.load(std::memory_order_acquire);
      while (current == nullptr) {
        if (slot.compare_exchange_weak(current, entry.get(), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
          entry.release();
          entries_.fetch_add(1, std::memory_order_relaxed);
          return true;
        }
      }
      if (current->hash == hash && current->Matches(tuple)) return true;  // raced: first wins
    }
    return false;  // too many collisions here: computed per call
  }

  size_t size() const { return entries_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    uint64_t hash = 0;
    std::vector<std::optional<std::string>> values;
    const Result* result = nullptr;

    bool Matches(RouteTuple tuple) const {
      if (tuple.size() != values.size()) return false;
      for (size_t i = 0; i < tuple.size(); ++i) {
        if (tuple[i].has_value() != values[i].has_value()) return false;
        if (tuple[i].has_value() && *tuple[i] != absl::string_view(*values[i])) return false;
      }
      return true;
    }
  };

  const size_t max_entries_;
  const size_t max_probes_;
  size_t mask_ = 0;
  std::unique_ptr<std::atomic<const Entry*>[]> slots_;
  std::atomic<size_t> entries_{0};
};

// Distinct results, shared by the tuples that route alike: a lock-free list
// searched by fingerprint on misses. Bounded by `max_results`; beyond it
// Add() hands the result back for one-off use.
template <typename Result>
class ResultPool {
 public:
  explicit ResultPool(size_t max_results = 1024) : max_results_(max_results) {}
  ~ResultPool() {
    const Node* node = head_.load(std::memory_order_relaxed);
    while (node != nullptr) {
      const Node* next = node->next;
      delete node;
      node = next;
    }
  }
  ResultPool(const ResultPool&) = delete;
  ResultPool& operator=(const ResultPool&) = delete;

  // A pooled result equal to what `equal(result)` accepts with this
  // fingerprint, or null.
  template <typename Equal>
  const Result* Find(uint64_t fingerprint, Equal equal) const {
    for (const Node* node = head_.load(std::memory_order_acquire); node != nullptr;
         node = node->next) {
      if (node->fingerprint == fingerprint && equal(*node->result)) return node->result.get();
    }
    return nullptr;
  }

  // Pools `result`; returns it, or null (and leaves `result` with the
  // caller) when the pool is full.
  const Result* Add(uint64_t fingerprint, std::unique_ptr<Result>& result) {
    if (count_.load(std::memory_order_relaxed) >= max_results_) return nullptr;
    count_.fetch_add(1, std::memory_order_relaxed);
    auto* node = new Node{fingerprint, std::move(result), head_.load(std::memory_order_relaxed)};
    while (!head_.compare_exchange_weak(node->next, node, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
    }
    return node->result.get();
  }

 private:
  struct Node {
    uint64_t fingerprint;
    std::unique_ptr<Result> result;
    const Node* next;
  };
  const size_t max_results_;
  std::atomic<size_t> count_{0};
  std::atomic<const Node*> head_{nullptr};
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_ROUTE_CACHE_H_
