#include "api/app/metrics_feed.h"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "domain/proto/metrics.pb.h"

namespace remotegpu::api {

void MetricsFeed::Subscribe(std::shared_ptr<StreamPeer> peer, std::set<std::string> hosts) {
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [](const Subscriber& s) { return s.peer->closed(); });
  subscribers_.push_back({std::move(peer), std::move(hosts)});
  count_ = subscribers_.size();
}

void MetricsFeed::Publish(const std::string& host_id, const domain::MetricsBatch& batch) {
  if (batch.samples_size() == 0) return;
  std::vector<std::shared_ptr<StreamPeer>> watching;
  {
    std::lock_guard lock(mu_);
    std::erase_if(subscribers_, [](const Subscriber& s) { return s.peer->closed(); });
    count_ = subscribers_.size();
    for (const auto& subscriber : subscribers_) {
      if (subscriber.hosts.empty() || subscriber.hosts.count(host_id) > 0) {
        watching.push_back(subscriber.peer);
      }
    }
  }
  if (watching.empty()) return;
  std::string samples;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(batch, &samples, options).ok()) return;
  // The batch's JSON is {"samples":[…],…}: the message adds its type and host.
  auto message = std::make_shared<const std::string>(
      R"({"type":"metrics","host_id":)" + nlohmann::json(host_id).dump() + "," + samples.substr(1));
  for (const auto& peer : watching) peer->Send(message);
}

}  // namespace remotegpu::api
