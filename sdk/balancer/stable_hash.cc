#include "sdk/balancer/stable_hash.h"

#include <cstring>

namespace grpc_cpp_polaris {
namespace {

uint64_t Mix(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

uint64_t Read8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

uint64_t StableHash(absl::string_view value, uint64_t seed) {
  constexpr uint64_t kK0 = 0xa0761d6478bd642fULL;
  constexpr uint64_t kK1 = 0xe7037ed1a0b428dbULL;
  constexpr uint64_t kK2 = 0x8ebc6af09c88c6e3ULL;
  uint64_t hash = Mix(seed ^ kK0, kK1) ^ value.size();
  const char* p = value.data();
  size_t left = value.size();
  for (; left >= 8; p += 8, left -= 8) hash = Mix(hash ^ Read8(p) ^ kK1, kK2);
  uint64_t tail = 0;
  for (size_t i = 0; i < left; ++i) tail |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  hash = Mix(hash ^ tail ^ kK2, kK0);
  return Mix(hash ^ (hash >> 29), kK1);
}

}  // namespace grpc_cpp_polaris
