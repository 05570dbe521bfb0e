// For tests: one HTTP request to a loopback admin endpoint, with civetweb's
// client.
#ifndef GRPC_CPP_POLARIS_SERVER_ADMIN_CLIENT_FOR_TEST_H_
#define GRPC_CPP_POLARIS_SERVER_ADMIN_CLIENT_FOR_TEST_H_

#include <civetweb.h>

#include <string>
#include <utility>

namespace grpc_cpp_polaris {
namespace testing {

// (status, body); status 0 when the request failed.
inline std::pair<int, std::string> AdminRequestForTest(int port, const std::string& method,
                                                       const std::string& path) {
  char error[256] = {};
  mg_connection* connection =
      mg_download("127.0.0.1", port, 0, error, sizeof(error),
                  "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
                  method.c_str(), path.c_str());
  if (connection == nullptr) return {0, error};
  const mg_response_info* info = mg_get_response_info(connection);
  const int status = info != nullptr ? info->status_code : 0;
  std::string body;
  char buffer[1024];
  for (int i = 0; i < 1024; ++i) {
    const int n = mg_read(connection, buffer, sizeof(buffer));
    if (n <= 0) break;
    body.append(buffer, static_cast<size_t>(n));
  }
  mg_close_connection(connection);
  return {status, body};
}

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_ADMIN_CLIENT_FOR_TEST_H_
