#include "sdk/limiter/limiter_choice.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace {

constexpr absl::string_view kGrpc = "grpc";

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t Fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

uint64_t ReadLittle64(const unsigned char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// The protocol an instance declares: its field, else the metadata label the
// real server adds from it.
absl::string_view ProtocolOf(const Instance& instance) {
  if (!instance.protocol.empty()) return instance.protocol;
  auto label = instance.metadata.find("protocol");
  return label == instance.metadata.end() ? absl::string_view() : label->second;
}

}  // namespace

uint64_t Fnv1Hash64(absl::string_view data) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : data) {
    hash *= 1099511628211ULL;
    hash ^= c;
  }
  return hash;
}

uint64_t Murmur3Hash64(absl::string_view data, uint32_t seed) {
  constexpr uint64_t kC1 = 0x87c37b91114253d5ULL;
  constexpr uint64_t kC2 = 0x4cf5ad432745937fULL;
  // The scrambles of a block's (or the tail's) two halves.
  auto scramble1 = [](uint64_t k) { return Rotl(k * kC1, 31) * kC2; };
  auto scramble2 = [](uint64_t k) { return Rotl(k * kC2, 33) * kC1; };
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const size_t length = data.size();
  uint64_t h1 = seed;
  uint64_t h2 = seed;
  const size_t blocks = length / 16;
  for (size_t i = 0; i < blocks; ++i) {
    h1 ^= scramble1(ReadLittle64(bytes + 16 * i));
    h1 = (Rotl(h1, 27) + h2) * 5 + 0x52dce729;
    h2 ^= scramble2(ReadLittle64(bytes + 16 * i + 8));
    h2 = (Rotl(h2, 31) + h1) * 5 + 0x38495ab5;
  }
  // The tail: up to 8 bytes in k1, the rest in k2, little-endian.
  const unsigned char* tail = bytes + blocks * 16;
  const size_t rest = length & 15;
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  for (size_t i = rest; i > 8; --i) k2 = (k2 << 8) | tail[i - 1];
  for (size_t i = std::min<size_t>(rest, 8); i > 0; --i) k1 = (k1 << 8) | tail[i - 1];
  if (rest > 8) h2 ^= scramble2(k2);
  if (rest > 0) h1 ^= scramble1(k1);
  h1 ^= length;
  h2 ^= length;
  h1 += h2;
  h2 += h1;
  h1 = Fmix(h1);
  h2 = Fmix(h2);
  return h1 + h2;
}

uint64_t LimiterChoice::WindowHash(const ServiceKey& service, absl::string_view labels) {
  std::string key = absl::StrCat(service.service, "#", service.service_namespace);
  if (!labels.empty()) absl::StrAppend(&key, "#", labels);
  return Fnv1Hash64(key);
}

LimiterChoice LimiterChoice::Build(absl::string_view cluster_namespace,
                                   const std::vector<Instance>& instances) {
  const bool polaris_namespace = cluster_namespace == "Polaris";
  std::vector<const Instance*> speaking;
  for (const Instance& instance : instances) {
    const absl::string_view protocol = ProtocolOf(instance);
    if (polaris_namespace ? protocol != kGrpc : (!protocol.empty() && protocol != kGrpc)) {
      continue;
    }
    speaking.push_back(&instance);
  }
  std::vector<const Instance*> candidates;
  for (const Instance* instance : speaking) {
    if (instance->Routable()) candidates.push_back(instance);
  }
  if (candidates.empty()) {  // none healthy: health is not asked
    for (const Instance* instance : speaking) {
      if (!instance->isolate && instance->weight > 0) candidates.push_back(instance);
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Instance* a, const Instance* b) {
              return a->id != b->id ? a->id < b->id : a->Address() < b->Address();
            });
  LimiterChoice choice;
  if (candidates.empty()) return choice;
  struct Entry {
    uint64_t offset;
    uint64_t skip;
    double weight;  // normalised
    double target = 0;
    uint64_t next = 0;
  };
  uint64_t total_weight = 0;
  for (const Instance* instance : candidates) total_weight += instance->weight;
  std::vector<Entry> entries;
  entries.reserve(candidates.size());
  double max_weight = 0;
  for (const Instance* instance : candidates) {
    choice.ids_.push_back(instance->id);
    choice.addresses_.push_back(instance->Address());
    const double weight =
        static_cast<double>(instance->weight) / static_cast<double>(total_weight);
    max_weight = std::max(max_weight, weight);
    entries.push_back(Entry{Murmur3Hash64(instance->id, 0) % kTableSize,
                            Murmur3Hash64(instance->id, 1) % (kTableSize - 1) + 1, weight});
  }
  constexpr uint32_t kEmpty = ~uint32_t{0};
  choice.table_.assign(kTableSize, kEmpty);
  // Each round, a candidate whose weight has caught up with its target
  // claims the next free slot of its permutation (offset + skip * next).
  uint64_t filled = 0;
  for (uint64_t round = 1; filled < kTableSize; ++round) {
    for (size_t i = 0; i < entries.size() && filled < kTableSize; ++i) {
      Entry& entry = entries[i];
      if (static_cast<double>(round) * entry.weight < entry.target) continue;
      entry.target += max_weight;
      uint64_t slot = (entry.offset + entry.skip * entry.next) % kTableSize;
      while (choice.table_[slot] != kEmpty) {
        ++entry.next;
        slot = (entry.offset + entry.skip * entry.next) % kTableSize;
      }
      choice.table_[slot] = static_cast<uint32_t>(i);
      ++entry.next;
      ++filled;
    }
  }
  return choice;
}

const std::string& LimiterChoice::Pick(uint64_t window_hash) const {
  static const std::string* const kNone = new std::string();
  if (table_.empty()) return *kNone;
  return addresses_[table_[window_hash % kTableSize]];
}

std::vector<uint32_t> LimiterChoice::SlotCounts() const {
  std::vector<uint32_t> counts(ids_.size(), 0);
  for (uint32_t index : table_) ++counts[index];
  return counts;
}

}  // namespace grpc_cpp_polaris
