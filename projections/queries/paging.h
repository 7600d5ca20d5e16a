// A page of a list query as the client asked for it, and what a list may be
// sorted on. api/http/envelope.h parses the query string into a Paging
// checked against the list's ListShape; the query checks it again before
// any of it reaches SQL.
#pragma once

#include <string>
#include <vector>

namespace remotegpu::queries {

struct Paging {
  int page = 1;
  int page_size = 20;
  std::string sort_by;
  bool descending = false;
};

// The columns a list may be sorted on (sortBy) and its default order.
struct ListShape {
  std::vector<std::string> sortable;
  std::string default_sort;
};

}  // namespace remotegpu::queries
