#include "projections/queries/sql_list.h"

#include <algorithm>

namespace remotegpu::queries {

std::string FromOf(const std::string& schema, const std::string& from) {
  std::string out;
  for (size_t i = 0; i < from.size(); ++i) {
    if (from.compare(i, 3, "{s}") == 0) {
      out += schema;
      i += 2;
    } else {
      out += from[i];
    }
  }
  return out;
}

std::string WhereOf(pqxx::nontransaction& tx, const SqlList& list) {
  std::string where = " WHERE true" + list.conditions;
  for (const auto& [column, value] : list.equals) {
    where += " AND " + column + " = " + tx.quote(value);
  }
  for (const auto& [column, op, value] : list.compares) {
    where += " AND " + column + " " + op + " " + tx.quote(value);
  }
  return where;
}

std::string ContainsPattern(const std::string& text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "%";
}

Result<std::string> ListPage(ReadStore& reads, const SqlList& list, const ListShape& shape,
                             const Paging& paging) {
  // The sort column is the one part of a page not quoted: only the list's
  // own columns get this far.
  if (std::find(shape.sortable.begin(), shape.sortable.end(), paging.sort_by) ==
      shape.sortable.end()) {
    return Status::InvalidArgument("sortBy cannot be " + paging.sort_by);
  }
  std::string page;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    const std::string from = FromOf(reads.schema(), list.from);
    const std::string where = WhereOf(tx, list);
    const std::string page_sql =
        "SELECT * FROM " + from + where + " ORDER BY " + paging.sort_by +
        (paging.descending ? " DESC, " : " ASC, ") + list.tiebreak + " LIMIT " +
        std::to_string(paging.page_size) + " OFFSET " +
        std::to_string(static_cast<int64_t>(paging.page - 1) * paging.page_size);
    auto row = tx.exec1("SELECT (SELECT count(*) FROM " + from + where +
                        "), coalesce((SELECT json_agg(p) FROM (" + page_sql + ") p), '[]'::json)");
    page = std::string("{\"list\":") + row[1].c_str() + ",\"total\":" + row[0].c_str() +
           ",\"page\":" + std::to_string(paging.page) +
           ",\"pageSize\":" + std::to_string(paging.page_size) + "}";
  });
  if (!read.ok()) return read;
  return page;
}

Result<int64_t> CountOf(ReadStore& reads, const SqlList& list) {
  int64_t count = 0;
  Status read = reads.Read([&](pqxx::nontransaction& tx) {
    count =
        tx.exec1("SELECT count(*) FROM " + FromOf(reads.schema(), list.from) + WhereOf(tx, list))[0]
            .as<int64_t>();
  });
  if (!read.ok()) return read;
  return count;
}

}  // namespace remotegpu::queries
