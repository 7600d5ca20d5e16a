// Strict reading of a JSON request body: unknown fields, wrong types and
// missing required fields are InvalidArgument naming the field, so a client
// learns exactly what to fix and nothing is appended.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "domain/money.h"

namespace remotegpu::api {

class JsonFields {
 public:
  // `prefix` names nested objects in messages ("asset.").
  JsonFields(const nlohmann::json& object, std::string prefix = "")
      : object_(object), prefix_(std::move(prefix)) {}

  // InvalidArgument for the first field not in `allowed`.
  Status OnlyAllowed(const std::set<std::string>& allowed) const {
    for (const auto& [key, value] : object_.items()) {
      if (!allowed.contains(key)) {
        return Status::InvalidArgument("unknown field '" + prefix_ + key + "'");
      }
    }
    return Status::Ok();
  }

  bool Has(const std::string& name) const {
    return object_.contains(name) && !object_.at(name).is_null();
  }

  // Strings longer than this are refused: names, reasons and remarks are
  // short, and nothing a client types should grow events without bound.
  static constexpr size_t kMaxStringBytes = 4096;

  Status String(const std::string& name, std::string* out, bool required = false) const {
    if (!Has(name)) return Missing(name, required);
    if (!object_.at(name).is_string()) return WrongType(name, "a string");
    if (object_.at(name).get_ref<const std::string&>().size() > kMaxStringBytes) {
      return Status::InvalidArgument(prefix_ + name + " must be at most " +
                                     std::to_string(kMaxStringBytes) + " bytes");
    }
    *out = object_.at(name).get<std::string>();
    if (required && out->empty()) return Status::InvalidArgument(prefix_ + name + " is empty");
    return Status::Ok();
  }

  // A sum of money as text in yuan ("12.50"), never a JSON number (which
  // would be a float to most clients), into fen.
  Status Yuan(const std::string& name, int64_t* fen, bool required = false) const {
    std::string text;
    RGPU_RETURN_IF_ERROR(String(name, &text, required));
    if (text.empty() && !required) return Status::Ok();
    auto parsed = domain::ParseYuan(text);
    if (!parsed.ok())
      return Status::InvalidArgument(prefix_ + name + ": " + parsed.status().message());
    *fen = *parsed;
    return Status::Ok();
  }

  Status Integer(const std::string& name, int64_t* out, int64_t min, int64_t max,
                 bool required = false) const {
    if (!Has(name)) return Missing(name, required);
    const auto& value = object_.at(name);
    if (!value.is_number_integer()) return WrongType(name, "an integer");
    *out = value.get<int64_t>();
    if (*out < min || *out > max) {
      return Status::InvalidArgument(prefix_ + name + " must be between " + std::to_string(min) +
                                     " and " + std::to_string(max));
    }
    return Status::Ok();
  }

  Status Boolean(const std::string& name, bool* out) const {
    if (!Has(name)) return Status::Ok();
    if (!object_.at(name).is_boolean()) return WrongType(name, "true or false");
    *out = object_.at(name).get<bool>();
    return Status::Ok();
  }

  Status StringList(const std::string& name, std::vector<std::string>* out) const {
    if (!Has(name)) return Status::Ok();
    const auto& value = object_.at(name);
    if (!value.is_array()) return WrongType(name, "an array of strings");
    for (const auto& item : value) {
      if (!item.is_string()) return WrongType(name, "an array of strings");
      out->push_back(item.get<std::string>());
    }
    return Status::Ok();
  }

  // The nested object, or null json when absent; InvalidArgument when not an object.
  Status Object(const std::string& name, nlohmann::json* out) const {
    if (!Has(name)) return Status::Ok();
    if (!object_.at(name).is_object()) return WrongType(name, "an object");
    *out = object_.at(name);
    return Status::Ok();
  }

  Status Array(const std::string& name, nlohmann::json* out) const {
    if (!Has(name)) return Status::Ok();
    if (!object_.at(name).is_array()) return WrongType(name, "an array");
    *out = object_.at(name);
    return Status::Ok();
  }

 private:
  Status Missing(const std::string& name, bool required) const {
    return required ? Status::InvalidArgument(prefix_ + name + " is required") : Status::Ok();
  }
  Status WrongType(const std::string& name, const std::string& what) const {
    return Status::InvalidArgument(prefix_ + name + " must be " + what);
  }

  const nlohmann::json& object_;
  std::string prefix_;
};

}  // namespace remotegpu::api
