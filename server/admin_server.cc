#include "server/admin_server.h"

#include <civetweb.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

void Reply(::mg_connection* connection, const AdminResponse& response) {
  const std::string head = absl::StrCat(
      "HTTP/1.1 ", response.status, " ", Reason(response.status), "\r\nContent-Type: ",
      response.content_type, "\r\nContent-Length: ", response.body.size(),
      "\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n");
  mg_write(connection, head.data(), head.size());
  mg_write(connection, response.body.data(), response.body.size());
}

}  // namespace

absl::Status AdminOptions::Validate() const {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("AdminOptions.address '", address, "' is not host:port (port 0..65535)"));
  }
  if (threads < 1 || threads > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("AdminOptions.threads ", threads, " is not in 1..64"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(
    const AdminOptions& options, std::map<std::string, Handler> handlers) {
  if (absl::Status valid = options.Validate(); !valid.ok()) return valid;
  for (const auto& [path, handler] : handlers) {
    if (path.empty() || path[0] != '/' || handler == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("admin handler for '", path, "' is invalid"));
    }
  }
  static std::once_flag library;
  std::call_once(library, [] { mg_init_library(0); });
  std::unique_ptr<AdminServer> server(new AdminServer(std::move(handlers)));
  const std::string threads = std::to_string(options.threads);
  const char* config[] = {"listening_ports", options.address.c_str(),
                          "num_threads", threads.c_str(),
                          "enable_keep_alive", "no",
                          "request_timeout_ms", "10000",
                          nullptr};
  mg_callbacks callbacks = {};
  server->context_ = mg_start(&callbacks, server.get(), config);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("admin server cannot listen on ", options.address));
  }
  mg_server_port ports[4] = {};
  const int count = mg_get_server_ports(server->context_, 4, ports);
  if (count < 1) {
    return absl::UnavailableError(
        absl::StrCat("admin server on ", options.address, " reports no port"));
  }
  server->port_ = ports[0].port;
  for (const auto& [path, handler] : server->handlers_) {
    auto route = std::make_unique<Route>(Route{server.get(), path});
    // "$": this path exactly, not everything below it.
    mg_set_request_handler(server->context_, (path + "$").c_str(), &AdminServer::Serve,
                           route.get());
    server->routes_[path] = std::move(route);
  }
  return server;
}

AdminServer::~AdminServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int AdminServer::Serve(::mg_connection* connection, void* data) {
  const auto* route = static_cast<const Route*>(data);
  const mg_request_info* info = mg_get_request_info(connection);
  AdminRequest request;
  request.method = info->request_method != nullptr ? info->request_method : "";
  request.path = route->path;
  const AdminResponse response = route->server->handlers_.at(route->path)(request);
  Reply(connection, response);
  return response.status;
}

}  // namespace grpc_cpp_polaris
