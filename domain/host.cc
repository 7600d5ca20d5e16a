#include "domain/host.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include "domain/field_diff.h"

namespace remotegpu::domain {
namespace {

using Events = std::vector<HostEvent>;

bool CanMove(OperationalStatus from, OperationalStatus to) {
  switch (from) {
    case AVAILABLE:
      return to == MAINTENANCE || to == FAULTY || to == RETIRED || to == RESERVED;
    case MAINTENANCE:
      return to == AVAILABLE || to == FAULTY || to == RETIRED;
    case FAULTY:
      return to == AVAILABLE || to == MAINTENANCE || to == RETIRED;
    case RESERVED:
      return to == AVAILABLE || to == MAINTENANCE || to == FAULTY || to == RETIRED;
    default:
      return false;  // RETIRED is final; UNSPECIFIED is not a state.
  }
}

Status ValidateSpec(const HostSpec& spec) {
  if (spec.name().empty()) return Status::InvalidArgument("spec.name is required");
  if (spec.ip().empty()) return Status::InvalidArgument("spec.ip is required");
  if (spec.cpu_cores() == 0) return Status::InvalidArgument("spec.cpu_cores must be above 0");
  if (spec.memory_mb() == 0) return Status::InvalidArgument("spec.memory_mb must be above 0");
  if (spec.overcommit_percent() != 0 && spec.overcommit_percent() < 100) {
    return Status::InvalidArgument("spec.overcommit_percent must be 0 (none) or at least 100");
  }
  for (const auto& range : spec.port_ranges()) {
    if (range.service() == PORT_SERVICE_UNSPECIFIED || range.first() == 0 ||
        range.last() < range.first() || range.last() > 65535) {
      return Status::InvalidArgument(
          "spec.port_ranges: a range needs a service and 1 <= first "
          "<= last <= 65535");
    }
  }
  return Status::Ok();
}

Status ValidateGpus(const google::protobuf::RepeatedPtrField<Gpu>& gpus) {
  std::set<uint32_t> indexes;
  for (const auto& gpu : gpus) {
    if (!indexes.insert(gpu.index()).second) {
      return Status::InvalidArgument("GPU index " + std::to_string(gpu.index()) +
                                     " is listed twice");
    }
    if (gpu.model().empty()) {
      return Status::InvalidArgument("GPU " + std::to_string(gpu.index()) + " has no model");
    }
  }
  return Status::Ok();
}

std::string AssetNumberFor(const DecideContext& context) {
  using namespace std::chrono;
  auto days = floor<std::chrono::days>(sys_time<microseconds>(microseconds(context.now_us)));
  int year = static_cast<int>(year_month_day(days).year());
  std::string id = context.stream_id.substr(context.stream_id.find('-') + 1);
  return "RG-" + std::to_string(year) + "-" + id;
}

Result<Events> Register(const HostState& state, const RegisterHost& command,
                        const DecideContext& context) {
  if (state.registered) return Status::AlreadyExists(context.stream_id + " is already registered");
  RGPU_RETURN_IF_ERROR(ValidateSpec(command.spec()));
  RGPU_RETURN_IF_ERROR(ValidateGpus(command.gpus()));
  Events events(1);
  auto* registered = events[0].mutable_registered();
  *registered->mutable_spec() = command.spec();
  *registered->mutable_asset() = command.asset();
  if (registered->asset().asset_number().empty()) {
    registered->mutable_asset()->set_asset_number(AssetNumberFor(context));
  }
  registered->set_source(command.source() == REGISTRATION_SOURCE_UNSPECIFIED ? MANUAL
                                                                             : command.source());
  for (const auto& gpu : command.gpus())
    *events.emplace_back().mutable_gpu_added()->mutable_gpu() = gpu;
  return events;
}

Result<Events> ReportGpuList(const HostState& state, const ReportGpus& command) {
  RGPU_RETURN_IF_ERROR(ValidateGpus(command.gpus()));
  Events events;
  std::set<uint32_t> reported;
  for (const auto& gpu : command.gpus()) {
    reported.insert(gpu.index());
    auto known = state.gpus.find(gpu.index());
    if (known == state.gpus.end()) {
      *events.emplace_back().mutable_gpu_added()->mutable_gpu() = gpu;
      continue;
    }
    auto changes = DiffFields(known->second, gpu);
    if (changes.empty()) continue;
    auto* changed = events.emplace_back().mutable_gpu_changed();
    *changed->mutable_gpu() = gpu;
    for (auto& change : changes) *changed->add_changes() = std::move(change);
  }
  for (const auto& [index, gpu] : state.gpus) {
    if (!reported.contains(index))
      *events.emplace_back().mutable_gpu_removed()->mutable_gpu() = gpu;
  }
  return events;
}

Result<Events> ChangeStatus(const HostState& state, const ChangeOperationalStatus& command) {
  const OperationalStatus to = command.to();
  if (to == OPERATIONAL_STATUS_UNSPECIFIED || !OperationalStatus_IsValid(to)) {
    return Status::InvalidArgument(
        "to must be one of available, maintenance, faulty, retired, "
        "reserved");
  }
  if (command.reason().empty()) return Status::InvalidArgument("reason is required");
  if (state.status == to) {
    return Status::FailedPrecondition(std::string("host is already ") + Name(to));
  }
  if (!CanMove(state.status, to)) {
    return Status::FailedPrecondition(std::string("a host cannot go from ") + Name(state.status) +
                                      " to " + Name(to));
  }
  if (state.status == MAINTENANCE && state.maintenance_by_person && !command.by_person() &&
      to == AVAILABLE) {
    return Status::FailedPrecondition(
        "maintenance set by a person is lifted only by a person, not by automation");
  }
  const bool has_allocations = !state.allocations.empty();
  if ((to == MAINTENANCE || to == RETIRED) && has_allocations && !command.drain()) {
    return Status::FailedPrecondition(std::to_string(state.allocations.size()) +
                                      " allocation(s) still on this host; release "
                                      "them first or send drain=true to accept them");
  }
  if (to == RESERVED && command.reserved_for().empty()) {
    return Status::InvalidArgument("reserved_for is required to reserve a host");
  }
  Events events(1);
  auto* changed = events[0].mutable_status_changed();
  changed->set_from(state.status);
  changed->set_to(to);
  changed->set_reason(command.reason());
  changed->set_by_person(command.by_person());
  changed->set_reserved_for(to == RESERVED ? command.reserved_for() : "");
  changed->set_drained(has_allocations && command.drain());
  return events;
}

Result<Events> EvaluateHealth(const HostState& state, const ReportHealth& report) {
  auto [health, reasons] = JudgeHealth(report);
  if (health == state.health && reasons == state.health_reasons) return Events{};
  Events events(1);
  auto* changed = events[0].mutable_health_changed();
  changed->set_from(state.health);
  changed->set_to(health);
  for (auto& reason : reasons) changed->add_reasons(std::move(reason));
  changed->set_isolated(health == UNHEALTHY);
  return events;
}

// The lowest free ports of each requested service.
Result<std::vector<PortBinding>> PickPorts(
    const HostState& state, const google::protobuf::RepeatedPtrField<PortRequest>& requests) {
  std::vector<PortBinding> picked;
  std::set<uint32_t> taken;
  const auto ranges = EffectivePortRanges(state.spec);
  for (const auto& request : requests) {
    auto range = std::find_if(ranges.begin(), ranges.end(),
                              [&](const PortRange& r) { return r.service() == request.service(); });
    if (range == ranges.end()) {
      return Status::InvalidArgument(std::string("host has no port pool for service ") +
                                     Name(request.service()));
    }
    uint32_t found = 0;
    for (uint32_t port = range->first(); port <= range->last() && found < request.count(); ++port) {
      if (state.port_holders.contains(port) || taken.contains(port)) continue;
      taken.insert(port);
      PortBinding& binding = picked.emplace_back();
      binding.set_service(request.service());
      binding.set_port(port);
      ++found;
    }
    if (found < request.count()) {
      return Status::ResourceExhausted(std::string("no free ") + Name(request.service()) +
                                       " port on this host (" + std::to_string(range->first()) +
                                       "-" + std::to_string(range->last()) + " all bound)");
    }
  }
  return picked;
}

Result<Events> Allocate(const HostState& state, const AllocateResources& command) {
  if (command.allocation_id().empty()) return Status::InvalidArgument("allocation_id is required");
  if (command.holder().empty()) return Status::InvalidArgument("holder is required");
  if (state.allocations.contains(command.allocation_id())) {
    return Status::AlreadyExists("allocation " + command.allocation_id() + " already exists");
  }
  if (state.status == RESERVED) {
    if (command.owner() != state.reserved_for) {
      return Status::FailedPrecondition("host is reserved for " + state.reserved_for);
    }
  } else if (state.status != AVAILABLE) {
    return Status::FailedPrecondition(std::string("host is ") + Name(state.status) +
                                      ", not available");
  }
  if (!state.online) return Status::FailedPrecondition("host is offline");
  if (state.isolated) return Status::FailedPrecondition("host is isolated: it is unhealthy");
  if (state.leased) return Status::FailedPrecondition("host is leased as a whole machine");

  Events events(1);
  auto* allocated = events[0].mutable_allocated();
  allocated->set_allocation_id(command.allocation_id());
  allocated->set_holder(command.holder());
  if (command.whole_machine()) {
    if (!state.allocations.empty()) {
      return Status::FailedPrecondition("a whole-machine allocation needs an empty host; " +
                                        std::to_string(state.allocations.size()) +
                                        " allocation(s) are on it");
    }
    allocated->set_whole_machine(true);
    allocated->set_cpu_cores(state.spec.cpu_cores());
    allocated->set_memory_mb(state.spec.memory_mb());
    for (const auto& [index, gpu] : state.gpus) allocated->add_gpu_indexes(index);
  } else {
    if (command.cpu_cores() == 0) return Status::InvalidArgument("cpu_cores must be above 0");
    if (command.memory_mb() == 0) return Status::InvalidArgument("memory_mb must be above 0");
    std::set<uint32_t> requested;
    for (uint32_t index : command.gpu_indexes()) {
      if (!requested.insert(index).second) {
        return Status::InvalidArgument("GPU " + std::to_string(index) + " is requested twice");
      }
      if (!state.gpus.contains(index)) {
        return Status::NotFound("host has no GPU " + std::to_string(index));
      }
      if (auto holder = state.gpu_holders.find(index); holder != state.gpu_holders.end()) {
        return Status::ResourceExhausted("GPU " + std::to_string(index) +
                                         " is held by allocation " + holder->second);
      }
    }
    if (state.cpu_allocated + uint64_t{command.cpu_cores()} > state.CpuCapacity()) {
      return Status::ResourceExhausted(
          "not enough CPU: " + std::to_string(state.CpuCapacity() - state.cpu_allocated) +
          " cores free, " + std::to_string(command.cpu_cores()) + " requested");
    }
    if (state.memory_allocated + command.memory_mb() > state.MemoryCapacity()) {
      return Status::ResourceExhausted(
          "not enough memory: " + std::to_string(state.MemoryCapacity() - state.memory_allocated) +
          " MB free, " + std::to_string(command.memory_mb()) + " MB requested");
    }
    allocated->set_cpu_cores(command.cpu_cores());
    allocated->set_memory_mb(command.memory_mb());
    for (uint32_t index : command.gpu_indexes()) allocated->add_gpu_indexes(index);
  }
  auto ports = PickPorts(state, command.ports());
  if (!ports.ok()) return ports.status();
  for (auto& port : *ports) *allocated->add_ports() = std::move(port);
  return events;
}

}  // namespace

uint64_t HostState::CpuCapacity() const {
  uint32_t percent = std::max<uint32_t>(spec.overcommit_percent(), 100);
  return uint64_t{spec.cpu_cores()} * percent / 100;
}

uint64_t HostState::MemoryCapacity() const {
  uint32_t percent = std::max<uint32_t>(spec.overcommit_percent(), 100);
  return spec.memory_mb() * percent / 100;
}

UsageStatus HostState::Usage() const {
  if (allocations.empty()) return IDLE;
  if (cpu_allocated > spec.cpu_cores() || memory_allocated > spec.memory_mb()) return OVERCOMMIT;
  bool gpus_full = !gpus.empty() && gpu_holders.size() >= gpus.size();
  bool cpu_full = cpu_allocated >= spec.cpu_cores() || memory_allocated >= spec.memory_mb();
  return leased || gpus_full || cpu_full ? FULL : PARTIAL;
}

bool HostState::Schedulable() const {
  return registered && status == AVAILABLE && online && !isolated && !leased;
}

std::vector<PortRange> EffectivePortRanges(const HostSpec& spec) {
  std::vector<PortRange> ranges(spec.port_ranges().begin(), spec.port_ranges().end());
  auto add_default = [&](PortService service, uint32_t first, uint32_t last) {
    for (const auto& r : ranges) {
      if (r.service() == service) return;
    }
    PortRange& range = ranges.emplace_back();
    range.set_service(service);
    range.set_first(first);
    range.set_last(last);
  };
  add_default(SSH, 30000, 30999);
  add_default(RDP, 33000, 33999);
  add_default(JUPYTER, 38000, 38999);
  add_default(CUSTOM, 40000, 40999);
  return ranges;
}

void Apply(HostState& state, const HostEvent& event) {
  switch (event.event_case()) {
    case HostEvent::kRegistered:
      state.registered = true;
      state.spec = event.registered().spec();
      state.asset = event.registered().asset();
      state.status = AVAILABLE;
      break;
    case HostEvent::kSpecChanged:
      state.spec = event.spec_changed().spec();
      break;
    case HostEvent::kAssetChanged:
      state.asset = event.asset_changed().asset();
      break;
    case HostEvent::kGpuAdded:
      state.gpus[event.gpu_added().gpu().index()] = event.gpu_added().gpu();
      break;
    case HostEvent::kGpuRemoved:
      state.gpus.erase(event.gpu_removed().gpu().index());
      break;
    case HostEvent::kGpuChanged:
      state.gpus[event.gpu_changed().gpu().index()] = event.gpu_changed().gpu();
      break;
    case HostEvent::kStatusChanged: {
      const auto& changed = event.status_changed();
      state.status = changed.to();
      state.maintenance_by_person = changed.to() == MAINTENANCE && changed.by_person();
      state.reserved_for = changed.reserved_for();
      break;
    }
    case HostEvent::kWentOffline:
      state.online = false;
      break;
    case HostEvent::kCameOnline:
      state.online = true;
      break;
    case HostEvent::kHealthChanged: {
      const auto& changed = event.health_changed();
      state.health = changed.to();
      state.health_reasons.assign(changed.reasons().begin(), changed.reasons().end());
      state.isolated = changed.isolated();
      break;
    }
    case HostEvent::kAllocated: {
      const auto& a = event.allocated();
      HostAllocation& allocation = state.allocations[a.allocation_id()];
      allocation = {a.allocation_id(),
                    a.holder(),
                    a.cpu_cores(),
                    a.memory_mb(),
                    {a.gpu_indexes().begin(), a.gpu_indexes().end()},
                    {a.ports().begin(), a.ports().end()},
                    a.whole_machine()};
      state.cpu_allocated += a.cpu_cores();
      state.memory_allocated += a.memory_mb();
      for (uint32_t index : a.gpu_indexes()) state.gpu_holders[index] = a.allocation_id();
      for (const auto& port : a.ports()) state.port_holders[port.port()] = a.allocation_id();
      state.leased |= a.whole_machine();
      break;
    }
    case HostEvent::kReleased: {
      auto it = state.allocations.find(event.released().allocation_id());
      if (it == state.allocations.end()) break;
      const HostAllocation& allocation = it->second;
      state.cpu_allocated -= allocation.cpu_cores;
      state.memory_allocated -= allocation.memory_mb;
      for (uint32_t index : allocation.gpu_indexes) state.gpu_holders.erase(index);
      for (const auto& port : allocation.ports) state.port_holders.erase(port.port());
      if (allocation.whole_machine) state.leased = false;
      state.allocations.erase(it);
      break;
    }
    case HostEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<HostEvent>> Decide(const HostState& state, const HostCommand& command,
                                      const DecideContext& context) {
  if (command.command_case() == HostCommand::kRegister) {
    return Register(state, command.register_(), context);
  }
  if (!state.registered) return Status::NotFound(context.stream_id + " is not registered");
  if (state.status == RETIRED && command.command_case() != HostCommand::kHeartbeat &&
      command.command_case() != HostCommand::kRelease) {
    return Status::FailedPrecondition(context.stream_id + " is retired");
  }
  switch (command.command_case()) {
    case HostCommand::kUpdateSpec: {
      RGPU_RETURN_IF_ERROR(ValidateSpec(command.update_spec().spec()));
      auto changes = DiffFields(state.spec, command.update_spec().spec());
      if (changes.empty()) return Events{};
      Events events(1);
      auto* changed = events[0].mutable_spec_changed();
      *changed->mutable_spec() = command.update_spec().spec();
      for (auto& change : changes) *changed->add_changes() = std::move(change);
      return events;
    }
    case HostCommand::kUpdateAsset: {
      AssetInfo asset = command.update_asset().asset();
      if (asset.asset_number().empty()) asset.set_asset_number(state.asset.asset_number());
      auto changes = DiffFields(state.asset, asset);
      if (changes.empty()) return Events{};
      Events events(1);
      auto* changed = events[0].mutable_asset_changed();
      *changed->mutable_asset() = std::move(asset);
      for (auto& change : changes) *changed->add_changes() = std::move(change);
      return events;
    }
    case HostCommand::kReportGpus:
      return ReportGpuList(state, command.report_gpus());
    case HostCommand::kChangeStatus:
      return ChangeStatus(state, command.change_status());
    case HostCommand::kHeartbeat: {
      if (state.online) return Events{};
      Events events(1);
      events[0].mutable_came_online();
      return events;
    }
    case HostCommand::kMarkOffline: {
      if (!state.online) return Events{};
      Events events(1);
      events[0].mutable_went_offline()->set_last_heartbeat_us(
          command.mark_offline().last_heartbeat_us());
      return events;
    }
    case HostCommand::kReportHealth:
      return EvaluateHealth(state, command.report_health());
    case HostCommand::kAllocate:
      return Allocate(state, command.allocate());
    case HostCommand::kRelease: {
      const auto& release = command.release();
      auto it = state.allocations.find(release.allocation_id());
      if (it == state.allocations.end()) {
        return Status::NotFound("no allocation " + release.allocation_id() + " on " +
                                context.stream_id);
      }
      Events events(1);
      auto* released = events[0].mutable_released();
      released->set_allocation_id(release.allocation_id());
      released->set_holder(it->second.holder);
      released->set_reason(release.reason());
      return events;
    }
    case HostCommand::kRegister:
    case HostCommand::COMMAND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("empty host command");
}

const char* Name(OperationalStatus status) {
  switch (status) {
    case AVAILABLE:
      return "available";
    case MAINTENANCE:
      return "maintenance";
    case FAULTY:
      return "faulty";
    case RETIRED:
      return "retired";
    case RESERVED:
      return "reserved";
    default:
      return "unspecified";
  }
}

HealthVerdict JudgeHealth(const ReportHealth& report) {
  HealthVerdict verdict;
  auto worsen = [&](HealthStatus to, std::string reason) {
    verdict.status = std::max(verdict.status, to);
    verdict.reasons.push_back(std::move(reason));
  };
  for (const auto& gpu : report.gpus()) {
    const std::string name = "GPU " + std::to_string(gpu.index());
    if (!gpu.accessible()) worsen(UNHEALTHY, name + " is not accessible");
    if (gpu.ecc_uncorrectable_errors() > 0) {
      worsen(UNHEALTHY, name + " reports uncorrectable ECC errors");
    }
    if (gpu.temperature_c() > kGpuHotCelsius) worsen(DEGRADED, name + " runs above 85 °C");
    if (gpu.power_limit_w() > 0 && gpu.power_w() > gpu.power_limit_w()) {
      worsen(DEGRADED, name + " draws more than its power limit");
    }
  }
  if (report.disk_free_percent() < kDiskLowFreePercent) {
    worsen(DEGRADED, "disk under 10 % free");
  }
  if (report.memory_free_percent() < kMemoryLowFreePercent) {
    worsen(DEGRADED, "memory under 5 % free");
  }
  return verdict;
}

ReportHealth HealthReportOf(const HostSample& sample) {
  ReportHealth report;
  auto percent = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? 100.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  };
  report.set_disk_free_percent(percent(sample.disk_available_bytes(), sample.disk_total_bytes()));
  report.set_memory_free_percent(
      percent(sample.memory_available_bytes(), sample.memory_total_bytes()));
  for (const auto& gpu : sample.gpus()) {
    auto* health = report.add_gpus();
    health->set_index(gpu.index());
    health->set_accessible(gpu.accessible());
    health->set_ecc_uncorrectable_errors(gpu.ecc_uncorrectable_errors());
    if (gpu.has_temperature()) health->set_temperature_c(gpu.temperature_c());
    if (gpu.has_power()) {
      health->set_power_w(gpu.power_w());
      health->set_power_limit_w(gpu.power_limit_w());
    }
  }
  return report;
}

const char* Name(HealthStatus status) {
  switch (status) {
    case HEALTHY:
      return "healthy";
    case DEGRADED:
      return "degraded";
    case UNHEALTHY:
      return "unhealthy";
    default:
      return "unspecified";
  }
}

const char* Name(PortService service) {
  switch (service) {
    case SSH:
      return "SSH";
    case RDP:
      return "RDP";
    case JUPYTER:
      return "Jupyter";
    case CUSTOM:
      return "custom";
    default:
      return "unspecified";
  }
}

namespace {

// Checks one field of a metrics sample; the first failure names its path.
class SampleChecker {
 public:
  explicit SampleChecker(std::string path) : path_(std::move(path)) {}

  SampleChecker& Real(const char* name, double value, double min, double max) {
    if (status_.ok() && !(std::isfinite(value) && value >= min && value <= max)) {
      status_ = Status::InvalidArgument(path_ + name + " must be a number from " + Text(min) +
                                        " to " + Text(max));
    }
    return *this;
  }
  // Counters stored as PostgreSQL bigint.
  SampleChecker& Count(const char* name, uint64_t value) {
    if (status_.ok() && value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      status_ = Status::InvalidArgument(path_ + name + " must be at most 2^63 - 1");
    }
    return *this;
  }
  SampleChecker& Small(const char* name, uint64_t value, uint64_t max) {
    if (status_.ok() && value > max) {
      status_ = Status::InvalidArgument(path_ + name + " must be at most " + std::to_string(max));
    }
    return *this;
  }
  SampleChecker& Fail(const std::string& message) {
    if (status_.ok()) status_ = Status::InvalidArgument(path_ + message);
    return *this;
  }
  Status status() const { return status_; }

 private:
  static std::string Text(double value) {
    std::string text = std::to_string(value);
    text.erase(text.find_last_not_of('0') + 1);
    if (!text.empty() && text.back() == '.') text.pop_back();
    return text;
  }
  std::string path_;
  Status status_;
};

constexpr size_t kMaxXidsPerSample = 256;
constexpr uint64_t kMaxCores = 1 << 20;
constexpr double kMaxLoad = 1e6;
constexpr double kMaxWatts = 1e5;

}  // namespace

Status ValidateMetricsBatch(const MetricsBatch& batch, const HostState& host) {
  std::set<std::string> uuids;
  for (const auto& [index, gpu] : host.gpus) uuids.insert(gpu.uuid());
  for (int i = 0; i < batch.samples_size(); ++i) {
    const HostSample& s = batch.samples(i);
    const std::string at = "samples[" + std::to_string(i) + "].";
    SampleChecker check(at);
    check.Real("cpu_usage_percent", s.cpu_usage_percent(), 0, 100)
        .Real("load_1m", s.load_1m(), 0, kMaxLoad)
        .Real("load_5m", s.load_5m(), 0, kMaxLoad)
        .Real("load_15m", s.load_15m(), 0, kMaxLoad)
        .Small("cpu_cores", s.cpu_cores(), kMaxCores)
        .Count("memory_total_bytes", s.memory_total_bytes())
        .Count("memory_available_bytes", s.memory_available_bytes())
        .Count("disk_total_bytes", s.disk_total_bytes())
        .Count("disk_available_bytes", s.disk_available_bytes())
        .Count("disk_read_bytes", s.disk_read_bytes())
        .Count("disk_write_bytes", s.disk_write_bytes())
        .Count("network_rx_bytes", s.network_rx_bytes())
        .Count("network_tx_bytes", s.network_tx_bytes())
        .Count("network_rx_packets", s.network_rx_packets())
        .Count("network_tx_packets", s.network_tx_packets());
    if (s.gpus_size() > static_cast<int>(host.gpus.size())) {
      check.Fail("gpus holds " + std::to_string(s.gpus_size()) + " samples; the host has " +
                 std::to_string(host.gpus.size()) + " GPU(s)");
    }
    RGPU_RETURN_IF_ERROR(check.status());
    for (int g = 0; g < s.gpus_size(); ++g) {
      const GpuSample& gpu = s.gpus(g);
      SampleChecker gpu_check(at + "gpus[" + std::to_string(g) + "].");
      // A GPU the driver no longer answers for comes without its UUID: then
      // its index must be one of the host's. Never echoed: the text is the
      // client's and may hold anything.
      const bool known =
          gpu.uuid().empty() ? host.gpus.contains(gpu.index()) : uuids.contains(gpu.uuid());
      if (!known) gpu_check.Fail("uuid is not a GPU of this host");
      gpu_check.Small("index", gpu.index(), 1023)
          .Real("utilization_percent", gpu.utilization_percent(), 0, 100)
          .Count("memory_used_bytes", gpu.memory_used_bytes())
          .Count("memory_total_bytes", gpu.memory_total_bytes())
          .Real("temperature_c", gpu.temperature_c(), -100, 300)
          .Real("power_w", gpu.power_w(), 0, kMaxWatts)
          .Real("power_limit_w", gpu.power_limit_w(), 0, kMaxWatts)
          .Count("ecc_uncorrectable_errors", gpu.ecc_uncorrectable_errors())
          .Count("ecc_corrected_errors", gpu.ecc_corrected_errors())
          .Small("xid_errors (count)", static_cast<uint64_t>(gpu.xid_errors_size()),
                 kMaxXidsPerSample);
      for (uint32_t xid : gpu.xid_errors()) {
        gpu_check.Small("xid_errors[]", xid,
                        static_cast<uint64_t>(std::numeric_limits<int32_t>::max()));
      }
      RGPU_RETURN_IF_ERROR(gpu_check.status());
    }
  }
  return Status::Ok();
}

}  // namespace remotegpu::domain
