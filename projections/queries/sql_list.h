// How the typed list queries beside this file turn a filter into one page
// of rows. Internal to projections/queries/: only their .cc files include it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "common/status.h"
#include "projections/queries/paging.h"
#include "projections/queries/read_store.h"

namespace remotegpu::queries {

// One list over a read model: what it selects from and its conditions.
struct SqlList {
  // A table or a FROM expression, "{s}" standing for the schema
  // ("{s}.hosts", "(SELECT … FROM {s}.hosts h JOIN …) machines").
  std::string from;
  std::string tiebreak;  // Makes the order total.
  // Conditions written here (trusted SQL, no values from a request), each
  // starting " AND ".
  std::string conditions;
  // column = value, values quoted when rendered.
  std::vector<std::pair<std::string, std::string>> equals;
  // column <operator> value, values quoted when rendered:
  // {"name", "ILIKE", "%gpu%"}, {"labels", "?", "team=vision"}.
  struct Compare {
    std::string column, op, value;
  };
  std::vector<Compare> compares;

  // Adds column = value when the value is not empty (a filter not given).
  void EqualIfGiven(const std::string& column, const std::string& value) {
    if (!value.empty()) equals.emplace_back(column, value);
  }
  // Adds column = value when a value is set, even an empty one (a scope).
  void EqualIfSet(const std::string& column, const std::optional<std::string>& value) {
    if (value) equals.emplace_back(column, *value);
  }
};

// `from` in `schema`.
std::string FromOf(const std::string& schema, const std::string& from);
// " WHERE true AND …" for the list's conditions, values quoted.
std::string WhereOf(pqxx::nontransaction& tx, const SqlList& list);
// "%text%" for ILIKE, LIKE's wildcards in `text` escaped.
std::string ContainsPattern(const std::string& text);

// One page of the list as the JSON text of {list, total, page, pageSize},
// in one round trip with PostgreSQL rendering the rows (json_agg).
// InvalidArgument when paging.sort_by is not one of shape.sortable.
Result<std::string> ListPage(ReadStore& reads, const SqlList& list, const ListShape& shape,
                             const Paging& paging);

// How many rows the list matches.
Result<int64_t> CountOf(ReadStore& reads, const SqlList& list);

}  // namespace remotegpu::queries
