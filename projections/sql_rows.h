// Building multi-row SQL statements: one INSERT for a whole batch is what
// makes batched projection fast.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace remotegpu::projections {

// Collects "(v1, v2, …)" tuples of already-quoted values.
class SqlRows {
 public:
  explicit SqlRows(pqxx::work& tx) : tx_(tx) {}

  SqlRows& Begin() {
    if (!rows_.empty()) rows_ += ",";
    rows_ += "(";
    first_ = true;
    return *this;
  }
  SqlRows& Text(const std::string& value) { return Raw(tx_.quote(value)); }
  SqlRows& Int(int64_t value) { return Raw(std::to_string(value)); }
  SqlRows& Bool(bool value) { return Raw(value ? "true" : "false"); }
  SqlRows& Null() { return Raw("NULL"); }
  SqlRows& Json(const std::string& json) { return Raw(tx_.quote(json) + "::jsonb"); }
  SqlRows& Time(int64_t unix_micros) {
    return Raw("to_timestamp(" + std::to_string(unix_micros) + " / 1000000.0)");
  }
  SqlRows& End() {
    rows_ += ")";
    ++count_;
    return *this;
  }
  bool empty() const { return count_ == 0; }
  // "INSERT INTO <table> (<columns>) VALUES <rows> <suffix>", run through the
  // transaction; nothing when there are no rows.
  void Insert(const std::string& table, const std::string& columns,
              const std::string& suffix = "") {
    if (empty()) return;
    tx_.exec0("INSERT INTO " + table + " (" + columns + ") VALUES " + rows_ + " " + suffix);
  }

 private:
  SqlRows& Raw(const std::string& sql) {
    if (!first_) rows_ += ",";
    rows_ += sql;
    first_ = false;
    return *this;
  }

  pqxx::work& tx_;
  std::string rows_;
  bool first_ = true;
  size_t count_ = 0;
};

// A JSON array of numbers or of strings, for jsonb columns.
template <typename Range>
std::string JsonNumbers(const Range& values) {
  std::string out = "[";
  for (const auto& v : values) out += (out.size() > 1 ? "," : "") + std::to_string(v);
  return out + "]";
}
std::string JsonStrings(const std::vector<std::string>& values);

// "ON CONFLICT (<key>) DO UPDATE SET c = EXCLUDED.c, …" for every column but the key.
std::string UpsertSuffix(const std::string& key, const std::string& columns);

}  // namespace remotegpu::projections
