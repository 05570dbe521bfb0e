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
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace grpc_cpp_polaris {

// One call attribute: a view of its value, or absent. Plain data, so that an
// array of them on the pick path costs nothing to set up.
struct RouteAttr {
  const char* data;
  uint32_t size;
  bool present;

  static RouteAttr Absent() { return RouteAttr{nullptr, 0, false}; }
  static RouteAttr Of(absl::string_view value) {
    return RouteAttr{value.data(), static_cast<uint32_t>(value.size()), true};
  }
  absl::string_view view() const { return absl::string_view(data, size); }
};

// One call's attributes, in RouteKeys order.
using RouteTuple = absl::Span<const RouteAttr>;

// Hashes a tuple 16 bytes per multiply, reading short values with a few
// overlapping loads rather than byte by byte (wyhash's scheme); presence and
// length are mixed in, so absent, empty and "a"+"b" vs "ab" all differ.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint64_t HashRouteTuple(RouteTuple tuple) {
  auto mix = [](uint64_t a, uint64_t b) {
    const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
  };
  auto read8 = [](const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto read4 = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return static_cast<uint64_t>(v);
  };
  constexpr uint64_t kSecret0 = 0xa0761d6478bd642fULL;
  constexpr uint64_t kSecret1 = 0xe7037ed1a0b428dbULL;
  constexpr uint64_t kSecret2 = 0x8ebc6af09c88c6e3ULL;
  uint64_t hash = 0x589965cc75374cc3ULL;
  for (const RouteAttr& value : tuple) {
    if (!value.present) {
      hash = mix(hash ^ kSecret0, kSecret2);
      continue;
    }
    const char* p = value.data;
    const size_t size = value.size;
    uint64_t a = 0, b = 0;
    if (size <= 16) {
      if (size >= 4) {
        const size_t step = (size >> 3) << 2;
        a = (read4(p) << 32) | read4(p + step);
        b = (read4(p + size - 4) << 32) | read4(p + size - 4 - step);
      } else if (size > 0) {
        a = (static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
            (static_cast<uint64_t>(static_cast<unsigned char>(p[size >> 1])) << 8) |
            static_cast<unsigned char>(p[size - 1]);
      }
    } else {
      size_t left = size;
      for (; left > 16; p += 16, left -= 16) {
        hash = mix(read8(p) ^ kSecret1, read8(p + 8) ^ hash);
      }
      a = read8(p + left - 16);
      b = read8(p + left - 8);
    }
    hash = mix(a ^ kSecret1 ^ size, b ^ hash ^ kSecret2);
  }
  return mix(hash ^ kSecret0, kSecret1);
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

  class Entry;

  // The entry stored for `tuple`, or null.
  ABSL_ATTRIBUTE_ALWAYS_INLINE const Entry* FindEntry(uint64_t hash, RouteTuple tuple) const {
    for (size_t probe = 0; probe < max_probes_; ++probe) {
      const Entry* entry = slots_[(hash + probe) & mask_].load(std::memory_order_acquire);
      if (entry == nullptr) return nullptr;
      if (entry->hash_ == hash && entry->Matches(tuple)) return entry;
    }
    return nullptr;
  }
  // The result stored for `tuple`, or null.
  const Result* Find(uint64_t hash, RouteTuple tuple) const {
    const Entry* entry = FindEntry(hash, tuple);
    return entry == nullptr ? nullptr : entry->result();
  }

  // Stores `result` (owned elsewhere, e.g. by a ResultPool that outlives
  // the cache's readers) for `tuple`. Returns the entry now stored for the
  // tuple (this one, or one a concurrent insert stored first), or null when
  // the cache is full. Entries live as long as the cache.
  const Entry* InsertEntry(uint64_t hash, RouteTuple tuple, const Result* result) {
    if (entries_.load(std::memory_order_relaxed) >= max_entries_) return nullptr;
    auto entry = std::make_unique<Entry>();
    entry->hash_ = hash;
    entry->result_ = result;
    for (const RouteAttr& value : tuple) {
      entry->lengths_.push_back(value.present ? value.size : kAbsent);
      if (value.present) entry->blob_.append(value.data, value.size);
    }
    for (size_t probe = 0; probe < max_probes_; ++probe) {
      std::atomic<const Entry*>& slot = slots_[(hash + probe) & mask_];
      const Entry* current = slot.load(std::memory_order_acquire);
      while (current == nullptr) {
        if (slot.compare_exchange_weak(current, entry.get(), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
          entries_.fetch_add(1, std::memory_order_relaxed);
          return entry.release();
        }
      }
      if (current->hash_ == hash && current->Matches(tuple)) return current;  // raced: first wins
    }
    return nullptr;  // too many collisions here: computed per call
  }
  bool Insert(uint64_t hash, RouteTuple tuple, const Result* result) {
    return InsertEntry(hash, tuple, result) != nullptr;
  }

  size_t size() const { return entries_.load(std::memory_order_relaxed); }

 public:
  // One stored tuple (its values back to back in `blob_`, with their
  // lengths) and its result. Immutable once stored.
  class Entry {
   public:
    const Result* result() const { return result_; }
    // Whether `tuple` is this entry's tuple.
    ABSL_ATTRIBUTE_ALWAYS_INLINE bool Matches(RouteTuple tuple) const {
      if (tuple.size() != lengths_.size()) return false;
      const char* at = blob_.data();
      for (size_t i = 0; i < tuple.size(); ++i) {
        if (!tuple[i].present) {
          if (lengths_[i] != kAbsent) return false;
          continue;
        }
        if (lengths_[i] != tuple[i].size) return false;
        if (!Equal(at, tuple[i].data, tuple[i].size)) return false;
        at += tuple[i].size;
      }
      return true;
    }

   private:
    friend class RouteCache;
    uint64_t hash_ = 0;
    const Result* result_ = nullptr;
    absl::InlinedVector<uint32_t, 4> lengths_;
    std::string blob_;
  };

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  // memcmp, without a library call for the short values calls usually carry.
  ABSL_ATTRIBUTE_ALWAYS_INLINE static bool Equal(const char* a, const char* b, size_t size) {
    if (size <= 16 && size >= 8) {
      uint64_t a0, a1, b0, b1;
      std::memcpy(&a0, a, 8);
      std::memcpy(&b0, b, 8);
      std::memcpy(&a1, a + size - 8, 8);
      std::memcpy(&b1, b + size - 8, 8);
      return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (size < 8 && size >= 4) {
      uint32_t a0, a1, b0, b1;
      std::memcpy(&a0, a, 4);
      std::memcpy(&b0, b, 4);
      std::memcpy(&a1, a + size - 4, 4);
      std::memcpy(&b1, b + size - 4, 4);
      return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return std::memcmp(a, b, size) == 0;
  }

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
