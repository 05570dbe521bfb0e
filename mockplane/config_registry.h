// The state behind the mock config centre (v1.PolarisConfigGRPC): config
// files by (namespace, group, file name), each with a draft and a released
// version, and long-poll watchers woken when a watched file is published.
// Speaks in the wire messages and result codes of the real server.
// Thread-safe.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_CONFIG_REGISTRY_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_CONFIG_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <set>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "proto/v1/config_file.pb.h"
#include "proto/v1/config_file_response.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {

// Caps that keep the mock's memory bounded under hostile long polls. The
// real server has none; a watch over the caps is answered with BadRequest
// (too many files) or MaximumCapacityExceeded (too many watchers), naming
// the cap.
struct ConfigLimits {
  size_t max_files_per_watch = 1000;
  size_t max_watchers = 10000;
  // Files watched over all open watches.
  size_t max_watched_files = 100000;
};

class ConfigRegistry {
 public:
  using WatchId = uint64_t;
  using WatchCallback = std::function<void(const v1::ConfigClientResponse&)>;

  explicit ConfigRegistry(ConfigLimits limits = {}) : limits_(limits) {}

  v1::ConfigClientResponse Create(const v1::ConfigFile& file);
  v1::ConfigClientResponse Update(const v1::ConfigFile& file);
  // Releases the file's current draft as a new version.
  v1::ConfigClientResponse Publish(const v1::ConfigFileRelease& release);
  v1::ConfigClientResponse UpsertAndPublish(const v1::ConfigFilePublishInfo& info);
  // The released file (NotFoundResource if never published).
  v1::ConfigClientResponse Get(const v1::ClientConfigFileInfo& info) const;
  v1::ConfigClientListResponse List(const v1::ConfigFileGroupRequest& request) const;

  // Long poll. If a watched file's released version is newer than the one
  // the client holds, returns that answer now. Otherwise registers
  // `on_change`, called once (outside the lock) when one is published, and
  // sets *id for RemoveWatch.
  std::optional<v1::ConfigClientResponse> Watch(const v1::ClientWatchConfigFileRequest& request,
                                                WatchCallback on_change, WatchId* id);
  // Forgets a watch (timed out or cancelled). Returns false when it was
  // already taken by a publish, whose callback then runs (or ran).
  bool RemoveWatch(WatchId id);
  // Watches waiting for a publish.
  size_t OpenWatches() const;

 private:
  using FileKey = std::tuple<std::string, std::string, std::string>;  // ns, group, name
  struct FileRecord {
    std::string draft;
    std::string format;
    bool has_release = false;
    std::string released;
    std::string md5;
    uint64_t version = 0;
  };
  // A watched file: where it is and the version the client holds.
  struct WatchedFile {
    FileKey key;
    uint64_t version;
  };
  struct Watcher {
    std::vector<WatchedFile> files;
    WatchCallback on_change;
  };

  // The answer telling that `watched` has a newer release, if it has.
  std::optional<v1::ConfigClientResponse> ChangedLocked(const WatchedFile& watched) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::ConfigClientResponse PublishLocked(const FileKey& key, FileRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a watcher and its index entries; returns its callback.
  WatchCallback TakeWatcherLocked(WatchId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the watchers of `key` (just published), outside the lock.
  void WakeWatchers(const FileKey& key);

  const ConfigLimits limits_;
  mutable std::mutex mu_;
  std::map<FileKey, FileRecord> files_ ABSL_GUARDED_BY(mu_);
  std::map<WatchId, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  // Who watches each file, so that a publish looks only at those.
  std::map<FileKey, std::set<WatchId>> watchers_by_file_ ABSL_GUARDED_BY(mu_);
  size_t watched_files_ ABSL_GUARDED_BY(mu_) = 0;
  WatchId next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_CONFIG_REGISTRY_H_
