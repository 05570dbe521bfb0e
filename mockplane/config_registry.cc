#include "mockplane/config_registry.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mockplane/wire_codes.h"
#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

// What is wrong with a file's coordinates, or "".
std::string Missing(const std::string& ns, const std::string& group, const std::string& name) {
  if (ns.empty()) return "namespace is required";
  if (group.empty()) return "group is required";
  if (name.empty()) return "file name is required";
  return "";
}

}  // namespace

v1::ConfigClientResponse ConfigRegistry::Create(const v1::ConfigFile& file) {
  const std::string problem =
      Missing(file.namespace_().value(), file.group().value(), file.name().value());
  if (!problem.empty()) return WithCode<v1::ConfigClientResponse>(v1::BadRequest, problem);
  std::lock_guard<std::mutex> lock(mu_);
  FileKey key{file.namespace_().value(), file.group().value(), file.name().value()};
  if (files_.count(key) > 0) return WithCode<v1::ConfigClientResponse>(v1::ExistedResource);
  FileRecord& record = files_[key];
  record.draft = file.content().value();
  record.format = file.format().value();
  return WithCode<v1::ConfigClientResponse>(v1::ExecuteSuccess);
}

v1::ConfigClientResponse ConfigRegistry::Update(const v1::ConfigFile& file) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(FileKey{file.namespace_().value(), file.group().value(),
                                file.name().value()});
  if (it == files_.end()) return WithCode<v1::ConfigClientResponse>(v1::NotFoundResource);
  it->second.draft = file.content().value();
  if (file.has_format()) it->second.format = file.format().value();
  return WithCode<v1::ConfigClientResponse>(v1::ExecuteSuccess);
}

v1::ConfigClientResponse ConfigRegistry::PublishLocked(const FileKey& key, FileRecord* record) {
  record->has_release = true;
  record->released = record->draft;
  // Not MD5: clients only compare it for equality.
  record->md5 = Fnv1aHex(record->released);
  ++record->version;
  v1::ConfigClientResponse response = WithCode<v1::ConfigClientResponse>(v1::ExecuteSuccess);
  v1::ClientConfigFileInfo* info = response.mutable_configfile();
  info->mutable_namespace_()->set_value(std::get<0>(key));
  info->mutable_group()->set_value(std::get<1>(key));
  info->mutable_file_name()->set_value(std::get<2>(key));
  info->mutable_version()->set_value(record->version);
  info->mutable_md5()->set_value(record->md5);
  return response;
}

v1::ConfigClientResponse ConfigRegistry::Publish(const v1::ConfigFileRelease& release) {
  v1::ConfigClientResponse response;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const FileKey key{release.namespace_().value(), release.group().value(),
                      release.file_name().value()};
    auto it = files_.find(key);
    if (it == files_.end()) return WithCode<v1::ConfigClientResponse>(v1::NotFoundResource);
    response = PublishLocked(key, &it->second);
  }
  WakeWatchers(FileKey{release.namespace_().value(), release.group().value(),
                       release.file_name().value()});
  return response;
}

v1::ConfigClientResponse ConfigRegistry::UpsertAndPublish(const v1::ConfigFilePublishInfo& info) {
  const std::string problem =
      Missing(info.namespace_().value(), info.group().value(), info.file_name().value());
  if (!problem.empty()) return WithCode<v1::ConfigClientResponse>(v1::BadRequest, problem);
  v1::ConfigClientResponse response;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const FileKey key{info.namespace_().value(), info.group().value(), info.file_name().value()};
    FileRecord& record = files_[key];
    record.draft = info.content().value();
    if (info.has_format()) record.format = info.format().value();
    response = PublishLocked(key, &record);
  }
  WakeWatchers(FileKey{info.namespace_().value(), info.group().value(), info.file_name().value()});
  return response;
}

v1::ConfigClientResponse ConfigRegistry::Get(const v1::ClientConfigFileInfo& info) const {
  const std::string problem =
      Missing(info.namespace_().value(), info.group().value(), info.file_name().value());
  if (!problem.empty()) return WithCode<v1::ConfigClientResponse>(v1::BadRequest, problem);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(FileKey{info.namespace_().value(), info.group().value(),
                                info.file_name().value()});
  if (it == files_.end() || !it->second.has_release) {
    return WithCode<v1::ConfigClientResponse>(v1::NotFoundResource, "config file not released");
  }
  v1::ConfigClientResponse response = WithCode<v1::ConfigClientResponse>(v1::ExecuteSuccess);
  v1::ClientConfigFileInfo* file = response.mutable_configfile();
  file->mutable_namespace_()->set_value(info.namespace_().value());
  file->mutable_group()->set_value(info.group().value());
  file->mutable_file_name()->set_value(info.file_name().value());
  file->mutable_content()->set_value(it->second.released);
  file->mutable_version()->set_value(it->second.version);
  file->mutable_md5()->set_value(it->second.md5);
  return response;
}

v1::ConfigClientListResponse ConfigRegistry::List(const v1::ConfigFileGroupRequest& request) const {
  const std::string& ns = request.config_file_group().namespace_().value();
  const std::string& group = request.config_file_group().name().value();
  v1::ConfigClientListResponse response =
      WithCode<v1::ConfigClientListResponse>(v1::ExecuteSuccess);
  response.set_namespace_(ns);
  response.set_group(group);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, record] : files_) {
    if (std::get<0>(key) != ns || std::get<1>(key) != group || !record.has_release) continue;
    v1::ClientConfigFileInfo* info = response.add_config_file_infos();
    info->mutable_namespace_()->set_value(ns);
    info->mutable_group()->set_value(group);
    info->mutable_file_name()->set_value(std::get<2>(key));
    info->mutable_version()->set_value(record.version);
    info->mutable_md5()->set_value(record.md5);
  }
  return response;
}

std::optional<v1::ConfigClientResponse> ConfigRegistry::ChangedLocked(
    const WatchedFile& watched) const {
  auto it = files_.find(watched.key);
  if (it == files_.end() || !it->second.has_release || it->second.version <= watched.version) {
    return std::nullopt;
  }
  // Clients fetch the content with GetConfigFile.
  v1::ConfigClientResponse response = WithCode<v1::ConfigClientResponse>(v1::ExecuteSuccess);
  v1::ClientConfigFileInfo* info = response.mutable_configfile();
  info->mutable_namespace_()->set_value(std::get<0>(watched.key));
  info->mutable_group()->set_value(std::get<1>(watched.key));
  info->mutable_file_name()->set_value(std::get<2>(watched.key));
  info->mutable_version()->set_value(it->second.version);
  info->mutable_md5()->set_value(it->second.md5);
  return response;
}

std::optional<v1::ConfigClientResponse> ConfigRegistry::Watch(
    const v1::ClientWatchConfigFileRequest& request, WatchCallback on_change, WatchId* id) {
  const size_t count = static_cast<size_t>(request.watch_files_size());
  if (count == 0) {
    return WithCode<v1::ConfigClientResponse>(v1::BadRequest, "watch_files is empty");
  }
  if (count > limits_.max_files_per_watch) {
    return WithCode<v1::ConfigClientResponse>(
        v1::BadRequest, absl::StrCat("watch_files has ", count, " files; at most ",
                                     limits_.max_files_per_watch, " (max_files_per_watch)"));
  }
  Watcher watcher;
  watcher.files.reserve(count);
  for (const v1::ClientConfigFileInfo& file : request.watch_files()) {
    watcher.files.push_back(WatchedFile{
        FileKey{file.namespace_().value(), file.group().value(), file.file_name().value()},
        file.version().value()});
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const WatchedFile& watched : watcher.files) {
    if (auto changed = ChangedLocked(watched)) return changed;
  }
  if (watchers_.size() >= limits_.max_watchers) {
    return WithCode<v1::ConfigClientResponse>(
        v1::MaximumCapacityExceeded,
        absl::StrCat("at most ", limits_.max_watchers, " watches at once (max_watchers)"));
  }
  if (watched_files_ + count > limits_.max_watched_files) {
    return WithCode<v1::ConfigClientResponse>(
        v1::MaximumCapacityExceeded, absl::StrCat("at most ", limits_.max_watched_files,
                                                  " files watched at once (max_watched_files)"));
  }
  *id = next_watch_id_++;
  for (const WatchedFile& watched : watcher.files) watchers_by_file_[watched.key].insert(*id);
  watched_files_ += count;
  watcher.on_change = std::move(on_change);
  watchers_.emplace(*id, std::move(watcher));
  return std::nullopt;
}

ConfigRegistry::WatchCallback ConfigRegistry::TakeWatcherLocked(WatchId id) {
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return nullptr;
  for (const WatchedFile& watched : it->second.files) {
    auto by_file = watchers_by_file_.find(watched.key);
    if (by_file == watchers_by_file_.end()) continue;  // listed twice in one watch
    by_file->second.erase(id);
    if (by_file->second.empty()) watchers_by_file_.erase(by_file);
  }
  watched_files_ -= it->second.files.size();
  WatchCallback callback = std::move(it->second.on_change);
  watchers_.erase(it);
  return callback;
}

bool ConfigRegistry::RemoveWatch(WatchId id) {
  std::lock_guard<std::mutex> lock(mu_);
  return TakeWatcherLocked(id) != nullptr;
}

size_t ConfigRegistry::OpenWatches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

void ConfigRegistry::WakeWatchers(const FileKey& key) {
  std::vector<std::pair<WatchCallback, v1::ConfigClientResponse>> woken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto by_file = watchers_by_file_.find(key);
    if (by_file == watchers_by_file_.end()) return;
    const std::vector<WatchId> ids(by_file->second.begin(), by_file->second.end());
    for (WatchId id : ids) {
      const Watcher& watcher = watchers_.at(id);
      std::optional<v1::ConfigClientResponse> changed;
      for (const WatchedFile& watched : watcher.files) {
        if (watched.key == key && (changed = ChangedLocked(watched))) break;
      }
      if (changed) woken.emplace_back(TakeWatcherLocked(id), std::move(*changed));
    }
  }
  for (auto& [callback, response] : woken) callback(response);
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
