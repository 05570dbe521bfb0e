// A small HTTP endpoint for an orchestrator and for operators, on Debian's
// civetweb: what a PolarisServer exposes with ServerOptions::admin
// (/offline, /online, /readiness, /health), and room for more (/metrics).
// Listens on loopback unless told otherwise.
#ifndef GRPC_CPP_POLARIS_SERVER_ADMIN_SERVER_H_
#define GRPC_CPP_POLARIS_SERVER_ADMIN_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace grpc_cpp_polaris {

struct AdminOptions {
  // "host:port" to listen on; port 0 picks a free one. Loopback by default:
  // the endpoints change what the server does.
  std::string address = "127.0.0.1:0";
  // Threads answering requests.
  int threads = 2;

  // InvalidArgument naming the bad field.
  absl::Status Validate() const;
};

struct AdminRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // "/offline"
};

struct AdminResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

class AdminServer {
 public:
  using Handler = std::function<AdminResponse(const AdminRequest&)>;

  // Serves `handlers` by exact path (anything else is 404). InvalidArgument
  // naming a bad option; Unavailable when it cannot listen.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const AdminOptions& options,
                                                            std::map<std::string, Handler> handlers);
  // Stops listening and waits for requests in progress.
  ~AdminServer();

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The port it listens on.
  int port() const { return port_; }

 private:
  struct Route {
    AdminServer* server;
    std::string path;
  };
  explicit AdminServer(std::map<std::string, Handler> handlers) : handlers_(std::move(handlers)) {}
  static int Serve(::mg_connection* connection, void* route);

  const std::map<std::string, Handler> handlers_;
  std::map<std::string, std::unique_ptr<Route>> routes_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_ADMIN_SERVER_H_
