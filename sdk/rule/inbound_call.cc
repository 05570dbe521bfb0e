#include "sdk/rule/inbound_call.h"

#include <map>

#include "absl/strings/ascii.h"
#include "sdk/call_metadata.h"
#include "sdk/rule/wildcard.h"

namespace grpc_cpp_polaris {

std::optional<absl::string_view> InboundCall::CallerService(std::string* buffer) const {
  return Header(kCallerServiceMetadataKey, buffer);
}

std::optional<absl::string_view> InboundCall::CallerNamespace(std::string* buffer) const {
  return Header(kCallerNamespaceMetadataKey, buffer);
}

std::optional<std::string> InboundCall::CallerMetadata(absl::string_view key) const {
  std::string buffer;
  std::optional<absl::string_view> encoded = Header(kCallerMetadataMetadataKey, &buffer);
  if (!encoded.has_value()) return std::nullopt;
  absl::StatusOr<std::map<std::string, std::string>> labels = DecodeLabels(*encoded);
  if (!labels.ok()) return std::nullopt;  // a malformed value carries no labels
  auto it = labels->find(std::string(key));
  if (it == labels->end()) return std::nullopt;
  return std::move(it->second);
}

std::optional<absl::string_view> ArgumentMatcher::ValueOf(const InboundCall& call,
                                                          std::string* buffer) const {
  switch (attribute) {
    case Attribute::kMethod:
      return call.method();
    case Attribute::kCustom: {
      std::optional<absl::string_view> header = call.Header(key, buffer);
      if (header.has_value()) return header;
      std::optional<std::string> value = call.CallerMetadata(key);
      if (!value.has_value()) return std::nullopt;
      *buffer = *std::move(value);
      return absl::string_view(*buffer);
    }
    case Attribute::kHeader:
      return call.Header(key, buffer);
    case Attribute::kCalleeMetadata:
      return call.CalleeMetadata(key);
    case Attribute::kQuery:
      return std::nullopt;
    case Attribute::kCallerService: {
      if (!IsWildcard(key)) {
        std::optional<absl::string_view> space = call.CallerNamespace(buffer);
        if (!space.has_value() || *space != key) return std::nullopt;
      }
      return call.CallerService(buffer);
    }
    case Attribute::kCallerIp: {
      absl::string_view ip = call.caller_ip();
      if (ip.empty()) return std::nullopt;
      return ip;
    }
    case Attribute::kCallerMetadata: {
      std::optional<std::string> value = call.CallerMetadata(key);
      if (!value.has_value()) return std::nullopt;
      *buffer = *std::move(value);
      return absl::string_view(*buffer);
    }
  }
  return std::nullopt;
}

std::string KeyOf(ArgumentMatcher::Attribute attribute, absl::string_view key) {
  if (attribute == ArgumentMatcher::Attribute::kHeader ||
      attribute == ArgumentMatcher::Attribute::kCustom) {
    return absl::AsciiStrToLower(key);
  }
  return std::string(key);
}

bool MethodMatches(const StringMatcher& matcher, absl::string_view method) {
  if (matcher.MatchesAnything() || matcher.Matches(method)) return true;
  if ((matcher.type() != StringMatcher::Type::kExact &&
       matcher.type() != StringMatcher::Type::kIn) ||
      matcher.value().find('/') != std::string::npos) {
    return false;
  }
  const size_t slash = method.rfind('/');
  return slash != absl::string_view::npos && matcher.Matches(method.substr(slash + 1));
}

bool ArgumentMatcher::Matches(const InboundCall& call) const {
  if (value.MatchesAnything()) return true;
  if (attribute == Attribute::kMethod) return MethodMatches(value, call.method());
  std::string buffer;
  return value.Matches(ValueOf(call, &buffer));
}

}  // namespace grpc_cpp_polaris
