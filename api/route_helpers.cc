#include "api/route_helpers.h"

#include "api/read_store.h"

namespace remotegpu::api {
namespace {

// PostgreSQL type OIDs (pg_type.dat).
constexpr pqxx::oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kJson = 114, kJsonb = 3802;

}  // namespace

commands::CommandMeta MetaFor(const HttpRequest& request) {
  commands::CommandMeta meta;
  meta.actor = {eventstore::ActorKind::kUser, "anonymous", "anonymous"};
  const std::string request_id = request.Header("x-request-id");
  meta.correlation_id = request_id.empty() ? request.trace_id : request_id;
  meta.trace_id = request.trace_id;
  return meta;
}

Status WaitForMinPosition(const HttpRequest& request,
                          const projections::ProjectionRunner& projection) {
  const std::string header = request.Header("x-min-position");
  if (header.empty()) return Status::Ok();
  if (header.find_first_not_of("0123456789") != std::string::npos || header.size() > 19) {
    return Status::InvalidArgument("X-Min-Position must be a log position (a number)");
  }
  return ReadStore::WaitFor(projection, std::stoull(header));
}

nlohmann::json RowToJson(const pqxx::row& row) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& field : row) {
    const std::string name = field.name();
    if (field.is_null()) {
      out[name] = nullptr;
      continue;
    }
    switch (field.type()) {
      case kBool: out[name] = field.as<bool>(); break;
      case kInt2:
      case kInt4:
      case kInt8: out[name] = field.as<int64_t>(); break;
      case kJson:
      case kJsonb: out[name] = nlohmann::json::parse(field.c_str(), nullptr, false); break;
      default: out[name] = field.c_str();
    }
  }
  return out;
}

nlohmann::json ListPage(pqxx::nontransaction& tx, const std::string& table,
                        const std::string& where, const Paging& paging,
                        const std::string& tiebreak) {
  nlohmann::json list = nlohmann::json::array();
  const int64_t total = tx.exec1("SELECT count(*) FROM " + table + where)[0].as<int64_t>();
  for (const auto& row :
       tx.exec("SELECT * FROM " + table + where + " ORDER BY " + paging.sort_by +
               (paging.descending ? " DESC, " : " ASC, ") + tiebreak + " LIMIT " +
               std::to_string(paging.page_size) + " OFFSET " +
               std::to_string(static_cast<int64_t>(paging.page - 1) * paging.page_size))) {
    list.push_back(RowToJson(row));
  }
  return {{"list", list}, {"total", total}, {"page", paging.page}, {"pageSize", paging.page_size}};
}

}  // namespace remotegpu::api
