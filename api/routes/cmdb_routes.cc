#include "api/routes/cmdb_routes.h"

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"
#include "projections/queries/cmdb_queries.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

#define RGPU_CHECK(expr) RGPU_RETURN_IF_ERROR(expr)

Result<domain::DeploymentMode> ParseMode(const std::string& text) {
  if (text.empty()) return domain::DEPLOYMENT_MODE_UNSPECIFIED;
  if (text == "docker") return domain::DOCKER;
  if (text == "kubernetes") return domain::KUBERNETES;
  if (text == "bare_metal") return domain::BARE_METAL;
  return Status::InvalidArgument("deployment_mode must be docker, kubernetes or bare_metal");
}

Result<domain::OperationalStatus> ParseOperationalStatus(const std::string& text) {
  for (auto status : {domain::AVAILABLE, domain::MAINTENANCE, domain::FAULTY, domain::RETIRED,
                      domain::RESERVED}) {
    if (text == domain::Name(status)) return status;
  }
  return Status::InvalidArgument(
      "operational_status must be available, maintenance, faulty, retired or reserved");
}

Status ReadGpus(const json& array, domain::RegisterHost* reg) {
  for (size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_object())
      return Status::InvalidArgument("gpus[" + std::to_string(i) + "] must be an object");
    JsonFields gpu(array[i], "gpus[" + std::to_string(i) + "].");
    RGPU_CHECK(gpu.OnlyAllowed(
        {"index", "uuid", "model", "memory_mb", "compute_capability", "nvlink_peers"}));
    int64_t index = 0, memory = 0;
    std::string uuid, model, capability;
    RGPU_CHECK(gpu.Integer("index", &index, 0, 63, true));
    RGPU_CHECK(gpu.String("model", &model, true));
    RGPU_CHECK(gpu.Integer("memory_mb", &memory, 0, int64_t{1} << 24));
    RGPU_CHECK(gpu.String("uuid", &uuid));
    RGPU_CHECK(gpu.String("compute_capability", &capability));
    json peers;
    RGPU_CHECK(gpu.Array("nvlink_peers", &peers));
    auto* out = reg->add_gpus();
    out->set_index(static_cast<uint32_t>(index));
    out->set_model(model);
    out->set_memory_mb(static_cast<uint64_t>(memory));
    out->set_uuid(uuid);
    out->set_compute_capability(capability);
    for (const auto& peer : peers) {
      if (!peer.is_number_unsigned()) {
        return Status::InvalidArgument("gpus[" + std::to_string(i) +
                                       "].nvlink_peers must hold GPU indexes");
      }
      out->add_nvlink_peers(peer.get<uint32_t>());
    }
  }
  return Status::Ok();
}

// The admin console's add-machine form (seed 02 §2.1.2.2): GPUs given as a
// model, a per-card memory in GB and a count; memory and disk in GB. The
// facts the host spec has no field for (CUDA and driver versions, CPU model,
// SSH domain and user, container domain prefix) become labels, where the
// agent's discovery will later confirm or correct them. No SSH password is
// taken: a machine's own credentials are not stored here (environments get
// generated ones, sealed per tenant).
Status ReadMachineForm(const json& body, std::string* host_id, domain::RegisterHost* reg) {
  JsonFields f(body);
  RGPU_CHECK(f.OnlyAllowed({"host_id", "name", "region", "room", "gpu_model", "gpu_memory_gb",
                            "gpu_count", "cuda_version", "driver_version", "cpu_model", "cpu_cores",
                            "memory_gb", "disk_gb", "ip_address", "ssh_domain", "ssh_port",
                            "container_domain_prefix", "ssh_username"}));
  auto* spec = reg->mutable_spec();
  std::string text, model, room;
  int64_t gpu_memory_gb = 0, gpu_count = 0, number = 0;
  RGPU_CHECK(f.String("host_id", host_id));
  RGPU_CHECK(f.String("name", &text, true));
  spec->set_name(text);
  RGPU_CHECK(f.String("region", &text, true));
  spec->set_region(text);
  RGPU_CHECK(f.String("ip_address", &text, true));
  spec->set_ip(text);
  RGPU_CHECK(f.String("gpu_model", &model, true));
  RGPU_CHECK(f.Integer("gpu_memory_gb", &gpu_memory_gb, 1, 4096, true));
  RGPU_CHECK(f.Integer("gpu_count", &gpu_count, 0, 64, true));
  RGPU_CHECK(f.Integer("cpu_cores", &number, 1, 100000, true));
  spec->set_cpu_cores(static_cast<uint32_t>(number));
  RGPU_CHECK(f.Integer("memory_gb", &number, 1, int64_t{1} << 30, true));
  spec->set_memory_mb(static_cast<uint64_t>(number) * 1024);
  number = 0;
  RGPU_CHECK(f.Integer("disk_gb", &number, 0, int64_t{1} << 40));
  spec->set_disk_gb(static_cast<uint64_t>(number));
  number = 22;
  RGPU_CHECK(f.Integer("ssh_port", &number, 1, 65535));
  spec->set_ssh_port(static_cast<uint32_t>(number));
  spec->set_os("linux");
  RGPU_CHECK(f.String("room", &room));
  reg->mutable_asset()->set_room(room);
  for (const char* key : {"cuda_version", "driver_version", "cpu_model", "ssh_domain",
                          "container_domain_prefix", "ssh_username"}) {
    text.clear();
    RGPU_CHECK(f.String(key, &text));
    if (text.empty()) continue;
    auto* label = spec->add_labels();
    label->set_key(key);
    label->set_value(text);
  }
  for (int64_t i = 0; i < gpu_count; ++i) {
    auto* gpu = reg->add_gpus();
    gpu->set_index(static_cast<uint32_t>(i));
    gpu->set_model(model);
    gpu->set_memory_mb(static_cast<uint64_t>(gpu_memory_gb) * 1024);
  }
  return Status::Ok();
}

// The register-host form: the seed's cmdb_servers columns.
Status ReadRegistration(const json& body, std::string* host_id, domain::RegisterHost* reg) {
  JsonFields f(body);
  RGPU_CHECK(
      f.OnlyAllowed({"host_id", "name", "ip_address", "public_ip", "ssh_port", "os_type",
                     "os_version", "arch", "deployment_mode", "cpu_cores", "memory_mb", "disk_gb",
                     "region", "labels", "tags", "overcommit_percent", "asset", "gpus"}));
  auto* spec = reg->mutable_spec();
  std::string text;
  int64_t number = 0;
  RGPU_CHECK(f.String("host_id", host_id));
  RGPU_CHECK(f.String("name", &text, true));
  spec->set_name(text);
  RGPU_CHECK(f.String("ip_address", &text, true));
  spec->set_ip(text);
  text.clear();
  RGPU_CHECK(f.String("public_ip", &text));
  spec->set_public_ip(text);
  number = 22;
  RGPU_CHECK(f.Integer("ssh_port", &number, 1, 65535));
  spec->set_ssh_port(static_cast<uint32_t>(number));
  text = "linux";
  RGPU_CHECK(f.String("os_type", &text));
  spec->set_os(text);
  text.clear();
  RGPU_CHECK(f.String("os_version", &text));
  spec->set_os_version(text);
  text.clear();
  RGPU_CHECK(f.String("arch", &text));
  spec->set_arch(text);
  text.clear();
  RGPU_CHECK(f.String("deployment_mode", &text));
  auto mode = ParseMode(text);
  if (!mode.ok()) return mode.status();
  spec->set_deployment_mode(*mode);
  RGPU_CHECK(f.Integer("cpu_cores", &number, 1, 100000, true));
  spec->set_cpu_cores(static_cast<uint32_t>(number));
  RGPU_CHECK(f.Integer("memory_mb", &number, 1, int64_t{1} << 40, true));
  spec->set_memory_mb(static_cast<uint64_t>(number));
  number = 0;
  RGPU_CHECK(f.Integer("disk_gb", &number, 0, int64_t{1} << 40));
  spec->set_disk_gb(static_cast<uint64_t>(number));
  text.clear();
  RGPU_CHECK(f.String("region", &text));
  spec->set_region(text);
  number = 0;
  RGPU_CHECK(f.Integer("overcommit_percent", &number, 0, 1000));
  spec->set_overcommit_percent(static_cast<uint32_t>(number));
  json labels;
  RGPU_CHECK(f.Object("labels", &labels));
  if (labels.is_object()) {
    for (const auto& [key, value] : labels.items()) {
      if (!value.is_string()) return Status::InvalidArgument("labels." + key + " must be a string");
      auto* label = spec->add_labels();
      label->set_key(key);
      label->set_value(value.get<std::string>());
    }
  }
  std::vector<std::string> tags;
  RGPU_CHECK(f.StringList("tags", &tags));
  for (auto& tag : tags) spec->add_tags(std::move(tag));

  json asset;
  RGPU_CHECK(f.Object("asset", &asset));
  if (asset.is_object()) {
    JsonFields a(asset, "asset.");
    RGPU_CHECK(a.OnlyAllowed({"asset_number", "room", "rack", "unit", "owner", "purchase_date",
                              "price_fen", "warranty_until"}));
    auto* out = reg->mutable_asset();
    std::string value;
    value.clear();
    RGPU_CHECK(a.String("asset_number", &value));
    out->set_asset_number(value);
    value.clear();
    RGPU_CHECK(a.String("room", &value));
    out->set_room(value);
    value.clear();
    RGPU_CHECK(a.String("rack", &value));
    out->set_rack(value);
    value.clear();
    RGPU_CHECK(a.String("owner", &value));
    out->set_owner(value);
    value.clear();
    RGPU_CHECK(a.String("purchase_date", &value));
    out->set_purchase_date(value);
    value.clear();
    RGPU_CHECK(a.String("warranty_until", &value));
    out->set_warranty_until(value);
    int64_t n = 0;
    RGPU_CHECK(a.Integer("unit", &n, 0, 100));
    out->set_unit(static_cast<uint32_t>(n));
    n = 0;
    RGPU_CHECK(a.Integer("price_fen", &n, 0, int64_t{1} << 50));
    out->set_price_fen(n);
  }
  json gpus;
  RGPU_CHECK(f.Array("gpus", &gpus));
  if (gpus.is_array()) RGPU_CHECK(ReadGpus(gpus, reg));
  return Status::Ok();
}

}  // namespace

void AddCmdbRoutes(Router& router, ApiContext& context) {
  // Registers a host from a form read by `read_form`.
  auto registration = [&context](
                          Status (*read_form)(const json&, std::string*, domain::RegisterHost*)) {
    return [&context, read_form](const HttpRequest& request) {
      auto body = ParseJsonObject(request);
      if (!body.ok()) return StatusResponse(request, body.status());
      std::string host_id;
      domain::HostCommand command;
      Status read = read_form(*body, &host_id, command.mutable_register_());
      if (!read.ok()) return StatusResponse(request, read);
      command.mutable_register_()->set_source(domain::MANUAL);
      if (host_id.empty()) host_id = "host-" + context.ids->NewId().ToString();
      auto done = context.hosts->Execute(host_id, command, MetaFor(request));
      if (!done.ok()) return RefusedResponse(request, done.status());
      return OkResponse(request, {{"host_id", host_id}, {"position", done->last_position}}, 201);
    };
  };
  router.Add("POST", "/api/cmdb/hosts", "Register a host (CMDB asset) with its GPUs",
             registration(ReadRegistration));
  router.Add("POST", "/api/admin/machines",
             "Add a machine from the admin console's form (GPU model, memory in GB and count)",
             registration(ReadMachineForm));

  router.Add(
      "GET", "/api/cmdb/hosts",
      "List hosts; filters status, health, gpu_model, region, label (key=value), min_free_gpus",
      [&context](const HttpRequest& request) {
        queries::HostFilter filter{.operational_status = request.Query("status"),
                                   .health_status = request.Query("health"),
                                   .gpu_model = request.Query("gpu_model"),
                                   .region = request.Query("region"),
                                   .label = request.Query("label")};
        const std::string min_free = request.Query("min_free_gpus");
        if (min_free.find_first_not_of("0123456789") != std::string::npos || min_free.size() > 3) {
          return StatusResponse(
              request, Status::InvalidArgument("min_free_gpus must be a small whole number"));
        }
        if (!min_free.empty()) filter.min_free_gpus = std::stoi(min_free);
        if (!filter.label.empty() && filter.label.find('=') == std::string::npos) {
          return StatusResponse(request, Status::InvalidArgument("label must be key=value"));
        }
        return ServeList(request, *context.cmdb_projection, queries::kHostList,
                         [&](const queries::Paging& paging) {
                           return queries::ListHosts(*context.reads, filter, paging);
                         });
      },
      {.cache = context.cmdb_cache,
       .query = {{"status", "operational status"},
                 {"health", "health status"},
                 {"gpu_model", "GPU model"},
                 {"region", "region"},
                 {"label", "key=value"},
                 {"min_free_gpus", "at least this many free GPUs"}},
       .paged = &queries::kHostList});

  router.Add("GET", "/api/cmdb/hosts/:id", "Host detail with its GPUs",
             [&context](const HttpRequest& request) {
               if (auto wait = AwaitMinPosition(request, *context.cmdb_projection)) return *wait;
               const std::string& id = request.params.at("id");
               return FoundResponse(request, queries::HostDetail(*context.reads, id), "host " + id);
             },
             {.cache = context.cmdb_cache});

  // The registration form again: the spec is replaced as a whole (the change
  // log records each field that changed), the asset data when given, the
  // GPU list when given (as a discovery report would). One append per part.
  router.Add("PUT", "/api/cmdb/hosts/:id", "Edit a host's facts, asset data or GPU list",
             [&context](const HttpRequest& request) {
               auto body = ParseJsonObject(request);
               if (!body.ok()) return StatusResponse(request, body.status());
               const std::string& host_id = request.params.at("id");
               std::string body_id;
               domain::RegisterHost form;
               Status read = ReadRegistration(*body, &body_id, &form);
               if (read.ok() && !body_id.empty() && body_id != host_id) {
                 read = Status::InvalidArgument("host_id in the body differs from the path");
               }
               if (!read.ok()) return StatusResponse(request, read);
               std::vector<domain::HostCommand> commands(1);
               *commands[0].mutable_update_spec()->mutable_spec() = form.spec();
               if (body->contains("asset")) {
                 *commands.emplace_back().mutable_update_asset()->mutable_asset() = form.asset();
               }
               if (body->contains("gpus")) {
                 *commands.emplace_back().mutable_report_gpus()->mutable_gpus() = form.gpus();
               }
               uint64_t position = 0;
               size_t events = 0;
               for (const auto& command : commands) {
                 auto done = context.hosts->Execute(host_id, command, MetaFor(request));
                 if (!done.ok()) return RefusedResponse(request, done.status());
                 position = std::max(position, done->last_position);
                 events += done->events;
               }
               return OkResponse(
                   request,
                   {{"host_id", host_id}, {"changed", events > 0}, {"position", position}});
             });

  router.Add(
      "PUT", "/api/cmdb/assets/:id/status", "Change a host's operational status",
      [&context](const HttpRequest& request) {
        auto body = ParseJsonObject(request);
        if (!body.ok()) return StatusResponse(request, body.status());
        JsonFields f(*body);
        std::string to, reason, reserved_for;
        bool drain = false;
        Status read = f.OnlyAllowed({"operational_status", "reason", "drain", "reserved_for"});
        if (read.ok()) read = f.String("operational_status", &to, true);
        if (read.ok()) read = f.String("reason", &reason, true);
        if (read.ok()) read = f.Boolean("drain", &drain);
        if (read.ok()) read = f.String("reserved_for", &reserved_for);
        if (!read.ok()) return StatusResponse(request, read);
        auto status = ParseOperationalStatus(to);
        if (!status.ok()) return StatusResponse(request, status.status());
        domain::HostCommand command;
        auto* change = command.mutable_change_status();
        change->set_to(*status);
        change->set_reason(reason);
        change->set_by_person(true);
        change->set_drain(drain);
        change->set_reserved_for(reserved_for);
        auto done = context.hosts->Execute(request.params.at("id"), command, MetaFor(request));
        if (!done.ok()) return RefusedResponse(request, done.status());
        return OkResponse(request, {{"host_id", request.params.at("id")},
                                    {"operational_status", to},
                                    {"position", done->last_position}});
      });

  router.Add("GET", "/api/cmdb/gpus", "List GPUs; filters host_id, model, free (true/false)",
             [&context](const HttpRequest& request) {
               queries::GpuFilter filter{request.Query("host_id"), request.Query("model")};
               const std::string free = request.Query("free");
               if (free == "true" || free == "false") {
                 filter.free = free == "true";
               } else if (!free.empty()) {
                 return StatusResponse(request,
                                       Status::InvalidArgument("free must be true or false"));
               }
               return ServeList(request, *context.cmdb_projection, queries::kGpuList,
                                [&](const queries::Paging& paging) {
                                  return queries::ListGpus(*context.reads, filter, paging);
                                });
             },
             {.cache = context.cmdb_cache,
              .query = {{"host_id", "host id"}, {"model", "GPU model"}, {"free", "true or false"}},
              .paged = &queries::kGpuList});

  router.Add(
      "GET", "/api/cmdb/servers/available",
      "Available servers by requirement: cpu, memory (MB), gpu, gpu_model, os_type",
      [&context](const HttpRequest& request) {
        queries::CapacityFilter filter{.gpu_model = request.Query("gpu_model"),
                                       .os_type = request.Query("os_type")};
        const std::pair<const char*, std::optional<int64_t>*> minimums[] = {
            {"cpu", &filter.cpu_cores}, {"memory", &filter.memory_mb}, {"gpu", &filter.gpus}};
        for (const auto& [param, minimum] : minimums) {
          const std::string value = request.Query(param);
          if (value.empty()) continue;
          if (value.find_first_not_of("0123456789") != std::string::npos || value.size() > 12) {
            return StatusResponse(
                request, Status::InvalidArgument(std::string(param) + " must be a whole number"));
          }
          *minimum = std::stoll(value);
        }
        return ServeList(request, *context.cmdb_projection, queries::kAvailableServerList,
                         [&](const queries::Paging& paging) {
                           return queries::ListAvailableServers(*context.reads, filter, paging);
                         });
      },
      {.cache = context.cmdb_cache,
       .query = {{"cpu", "free CPU cores at least"},
                 {"memory", "free memory (MB) at least"},
                 {"gpu", "free GPUs at least"},
                 {"gpu_model", "GPU model"},
                 {"os_type", "OS type"}},
       .paged = &queries::kAvailableServerList});

  router.Add("GET", "/api/cmdb/assets/:id/changes", "A host's change history (old and new values)",
             [&context](const HttpRequest& request) {
               return ServeList(request, *context.cmdb_projection, queries::kChangeList,
                                [&](const queries::Paging& paging) {
                                  return queries::ListChanges(*context.reads,
                                                              request.params.at("id"), paging);
                                });
             },
             {.cache = context.cmdb_cache, .paged = &queries::kChangeList});
}

}  // namespace remotegpu::api
