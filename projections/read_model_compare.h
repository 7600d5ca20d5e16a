// Comparing two schemas of read models row by row: a live one and a fresh
// projection of the same log (`remotegpu-replay verify`, and tests).
#pragma once

#include <map>
#include <string>

#include <pqxx/pqxx>

namespace remotegpu::projections {

inline const char* const kReadModelTables[] = {
    "hosts",           "gpus",         "port_mappings",     "port_pools",
    "change_log",      "environments", "scheduler_history", "leases",
    "billing_records", "accounts",     "payments",          "invoices"};

// For each read-model table, the rows one schema has and the other lacks,
// both ways (0 everywhere: the same read models).
inline std::map<std::string, int64_t> ReadModelDifferences(pqxx::connection& connection,
                                                           const std::string& a,
                                                           const std::string& b) {
  std::map<std::string, int64_t> out;
  pqxx::nontransaction tx(connection);
  for (const char* table : kReadModelTables) {
    const std::string ta = a + "." + table, tb = b + "." + table;
    out[table] =
        tx.exec1("SELECT (SELECT count(*) FROM (SELECT * FROM " + ta + " EXCEPT SELECT * FROM " +
                 tb + ") x) + (SELECT count(*) FROM (SELECT * FROM " + tb +
                 " EXCEPT SELECT * FROM " + ta + ") y)")[0]
            .as<int64_t>();
  }
  return out;
}

}  // namespace remotegpu::projections
