#include "projections/sql_rows.h"

#include <nlohmann/json.hpp>
#include <sstream>

namespace remotegpu::projections {

std::string JsonStrings(const std::vector<std::string>& values) {
  return nlohmann::json(values).dump();
}

std::string UpsertSuffix(const std::string& key, const std::string& columns) {
  std::string suffix = "ON CONFLICT (" + key + ") DO UPDATE SET ";
  std::stringstream in(columns);
  std::string column;
  bool first = true;
  while (std::getline(in, column, ',')) {
    column.erase(0, column.find_first_not_of(' '));
    column.erase(column.find_last_not_of(' ') + 1);
    if (column == key) continue;
    suffix += (first ? "" : ", ") + column + " = EXCLUDED." + column;
    first = false;
  }
  return suffix;
}

}  // namespace remotegpu::projections
