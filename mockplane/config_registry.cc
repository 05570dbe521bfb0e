#include "mockplane/config_registry.h"

#include <utility>
#include <vector>

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
  WakeWatchers();
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
  WakeWatchers();
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
    const v1::ClientWatchConfigFileRequest& request) const {
  for (const v1::ClientConfigFileInfo& watched : request.watch_files()) {
    auto it = files_.find(FileKey{watched.namespace_().value(), watched.group().value(),
                                  watched.file_name().value()});
    if (it == files_.end() || !it->second.has_release) continue;
    if (it->second.version > watched.version().value()) {
      v1::ConfigClientResponse response = WithCode<v1::ConfigClientResponse>(v1::ExecuteSuccess);
      v1::ClientConfigFileInfo* info = response.mutable_configfile();
      *info = watched;
      info->mutable_version()->set_value(it->second.version);
      info->mutable_md5()->set_value(it->second.md5);
      info->clear_content();  // clients fetch the content with GetConfigFile
      return response;
    }
  }
  return std::nullopt;
}

std::optional<v1::ConfigClientResponse> ConfigRegistry::Watch(
    const v1::ClientWatchConfigFileRequest& request, WatchCallback on_change, WatchId* id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (request.watch_files_size() == 0) {
    return WithCode<v1::ConfigClientResponse>(v1::BadRequest, "watch_files is empty");
  }
  if (auto changed = ChangedLocked(request)) return changed;
  *id = next_watch_id_++;
  watchers_[*id] = Watcher{request, std::move(on_change)};
  return std::nullopt;
}

bool ConfigRegistry::RemoveWatch(WatchId id) {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.erase(id) > 0;
}

void ConfigRegistry::WakeWatchers() {
  std::vector<std::pair<WatchCallback, v1::ConfigClientResponse>> woken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      if (auto changed = ChangedLocked(it->second.request)) {
        woken.emplace_back(std::move(it->second.on_change), std::move(*changed));
        it = watchers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [callback, response] : woken) callback(response);
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
