#include "sdk/call_metadata.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace grpc_cpp_polaris {
namespace {

void Escape(absl::string_view in, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : in) {
    if (c == '%' || c == '&' || c == '=' || c < 0x20 || c > 0x7e) {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

absl::StatusOr<std::string> Unescape(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return absl::InvalidArgumentError(absl::StrCat("truncated escape in '", in, "'"));
    }
    const int high = HexValue(in[i + 1]);
    const int low = HexValue(in[i + 2]);
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad escape in '", in, "'"));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace

std::string EncodeLabels(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty()) out.push_back('&');
    Escape(key, &out);
    out.push_back('=');
    Escape(value, &out);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> DecodeLabels(absl::string_view encoded) {
  std::map<std::string, std::string> labels;
  if (encoded.empty()) return labels;
  for (absl::string_view pair : absl::StrSplit(encoded, '&')) {
    const size_t equals = pair.find('=');
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("label '", pair, "' has no '='"));
    }
    absl::StatusOr<std::string> key = Unescape(pair.substr(0, equals));
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value = Unescape(pair.substr(equals + 1));
    if (!value.ok()) return value.status();
    labels[*std::move(key)] = *std::move(value);
  }
  return labels;
}

}  // namespace grpc_cpp_polaris
