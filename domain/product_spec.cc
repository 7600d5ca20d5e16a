#include "domain/product_spec.h"

#include "domain/field_diff.h"

namespace remotegpu::domain {
namespace {

// The spec as it is kept: a CPU-only spec carries no GPU fields.
Result<ProductSpec> Validated(ProductSpec spec) {
  if (spec.name().empty() || spec.name().size() > 64) {
    return Status::InvalidArgument("name must have 1 to 64 characters");
  }
  if (spec.cpu_cores() < 1) return Status::InvalidArgument("cpu_cores must be at least 1");
  if (spec.memory_gb() < 1) return Status::InvalidArgument("memory_gb must be at least 1");
  if (spec.gpu_count() > 64) return Status::InvalidArgument("gpu_count must be at most 64");
  if (spec.gpu_count() == 0) {
    spec.clear_gpu_model();
    spec.clear_gpu_memory_gb();
    spec.clear_gpu_memory_slicing();
  } else if (spec.gpu_model().empty()) {
    return Status::InvalidArgument("gpu_model is required when gpu_count is not 0");
  }
  return spec;
}

Status ValidPrice(int64_t fen) {
  if (fen < 0) return Status::InvalidArgument("a price cannot be negative");
  if (fen > int64_t{100'000'000'000})
    return Status::InvalidArgument("a price above ¥1,000,000,000");
  return Status::Ok();
}

}  // namespace

void Apply(SpecState& state, const SpecEvent& event) {
  switch (event.event_case()) {
    case SpecEvent::kCreated:
      state.created = true;
      state.spec = event.created().spec();
      state.prices.push_back({event.created().created_at_us(), event.created().fen_per_hour()});
      break;
    case SpecEvent::kChanged:
      state.spec = event.changed().spec();
      break;
    case SpecEvent::kPriceChanged:
      state.prices.push_back(
          {event.price_changed().effective_at_us(), event.price_changed().fen_per_hour()});
      break;
    case SpecEvent::EVENT_NOT_SET:
      break;
  }
}

Result<std::vector<SpecEvent>> Decide(const SpecState& state, const SpecCommand& command,
                                      const DecideContext& context) {
  std::vector<SpecEvent> events(1);
  switch (command.command_case()) {
    case SpecCommand::kCreate: {
      if (state.created) return Status::AlreadyExists(context.stream_id + " already exists");
      auto spec = Validated(command.create().spec());
      if (!spec.ok()) return spec.status();
      RGPU_RETURN_IF_ERROR(ValidPrice(command.create().fen_per_hour()));
      *events[0].mutable_created()->mutable_spec() = *spec;
      events[0].mutable_created()->set_fen_per_hour(command.create().fen_per_hour());
      events[0].mutable_created()->set_created_at_us(context.now_us);
      return events;
    }
    case SpecCommand::kUpdate: {
      if (!state.created) return Status::NotFound(context.stream_id + " does not exist");
      auto spec = Validated(command.update().spec());
      if (!spec.ok()) return spec.status();
      std::vector<FieldChange> changes = DiffFields(state.spec, *spec);
      if (changes.empty()) return std::vector<SpecEvent>{};
      auto* changed = events[0].mutable_changed();
      *changed->mutable_spec() = *spec;
      for (auto& change : changes) *changed->add_changes() = std::move(change);
      return events;
    }
    case SpecCommand::kChangePrice: {
      if (!state.created) return Status::NotFound(context.stream_id + " does not exist");
      const ChangeSpecPrice& change = command.change_price();
      RGPU_RETURN_IF_ERROR(ValidPrice(change.fen_per_hour()));
      const int64_t effective =
          change.effective_at_us() == 0 ? context.now_us : change.effective_at_us();
      if (effective < context.now_us) {
        return Status::FailedPrecondition("a price change cannot take effect in the past");
      }
      if (!state.prices.empty() && effective <= state.prices.back().effective_at_us) {
        return Status::FailedPrecondition(
            "a price change must take effect after the last one (at " +
            std::to_string(state.prices.back().effective_at_us) + " µs)");
      }
      events[0].mutable_price_changed()->set_fen_per_hour(change.fen_per_hour());
      events[0].mutable_price_changed()->set_effective_at_us(effective);
      return events;
    }
    case SpecCommand::COMMAND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("empty spec command");
}

void ApplyProductSpec(const ProductSpec& product, EnvironmentSpec* environment) {
  environment->set_cpu_cores(product.cpu_cores());
  environment->set_memory_mb(uint64_t{product.memory_gb()} * 1024);
  environment->set_gpu_count(product.gpu_count());
  environment->set_storage_gb(uint64_t{product.system_disk_gb()} + product.data_disk_gb());
  auto* constraints = environment->mutable_constraints();
  constraints->set_gpu_model(product.gpu_count() > 0 ? product.gpu_model() : "");
  constraints->set_min_gpu_memory_mb(
      product.gpu_count() > 0 ? uint64_t{product.gpu_memory_gb()} * 1024 : 0);
}

int64_t PriceAt(const SpecState& state, int64_t at_us) {
  int64_t price = 0;
  for (const auto& point : state.prices) {
    if (point.effective_at_us > at_us) break;
    price = point.fen;
  }
  return price;
}

}  // namespace remotegpu::domain
