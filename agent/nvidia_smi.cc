#include "agent/nvidia_smi.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace remotegpu::agent {
namespace {

std::string_view Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines = Split(text, '\n');
  for (auto& line : lines) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  return lines;
}

// "[N/A]", "[Not Supported]" and the like: nvidia-smi's "no value".
std::string Value(std::string_view field) {
  field = Trim(field);
  if (field.starts_with('[') && field.ends_with(']')) return "";
  return std::string(field);
}

template <typename Number>
bool ParseNumber(std::string_view text, Number* out) {
  text = Trim(text);
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

// Removes ANSI escape sequences ("\x1b[4m") that some versions print around
// the header's names.
std::string StripEscapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) ++i;
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

// "GPU3" -> 3.
bool GpuName(std::string_view cell, uint32_t* index) {
  cell = Trim(cell);
  return cell.starts_with("GPU") && ParseNumber(cell.substr(3), index);
}

// Calls `row(fields, index, bad)` for each non-empty line of a
// --query-gpu CSV with at least `min_fields` fields, after checking that the
// first is a GPU index not seen before; `bad(why)` makes the error naming
// the line. Stops at the first error, from here or from `row`.
template <typename Row>
Status ForEachGpuRow(std::string_view csv, size_t min_fields, Row row) {
  std::set<uint32_t> seen;
  int line_number = 0;
  for (std::string_view line : Lines(csv)) {
    ++line_number;
    if (Trim(line).empty()) continue;
    const auto fields = Split(line, ',');
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("nvidia-smi line " + std::to_string(line_number) + ": " + why +
                                     ": '" + std::string(line) + "'");
    };
    if (fields.size() < min_fields) {
      return bad("expected " + std::to_string(min_fields) + " fields");
    }
    uint32_t index = 0;
    if (!ParseNumber(fields[0], &index)) return bad("the index is not a number");
    if (!seen.insert(index).second) return bad("GPU " + std::to_string(index) + " twice");
    RGPU_RETURN_IF_ERROR(row(fields, index, bad));
  }
  return Status::Ok();
}

}  // namespace

Result<SmiGpus> ParseQueryGpu(std::string_view csv) {
  SmiGpus out;
  Status parsed = ForEachGpuRow(csv, 6, [&](const auto& fields, uint32_t index, auto bad) {
    domain::Gpu gpu;
    gpu.set_index(index);
    gpu.set_uuid(Value(fields[1]));
    gpu.set_model(Value(fields[2]));
    const std::string memory = Value(fields[3]);
    uint64_t memory_mb = 0;
    if (!memory.empty() && !ParseNumber(memory, &memory_mb)) return bad("memory is not a number");
    gpu.set_memory_mb(memory_mb);
    gpu.set_compute_capability(Value(fields[4]));
    if (out.driver_version.empty()) out.driver_version = Value(fields[5]);
    out.gpus.push_back(std::move(gpu));
    return Status::Ok();
  });
  if (!parsed.ok()) return parsed;
  std::sort(out.gpus.begin(), out.gpus.end(),
            [](const domain::Gpu& a, const domain::Gpu& b) { return a.index() < b.index(); });
  return out;
}

Result<std::vector<domain::GpuSample>> ParseQueryGpuMetrics(std::string_view csv) {
  std::vector<domain::GpuSample> samples;
  Status parsed = ForEachGpuRow(csv, 10, [&](const auto& fields, uint32_t index, auto bad) {
    // A field that is either "no value" (false, untouched) or a number.
    bool malformed = false;
    auto number = [&](size_t i, double* out) {
      const std::string text = Value(fields[i]);
      if (text.empty()) return false;
      if (!ParseNumber(text, out)) malformed = true;
      return !malformed;
    };
    domain::GpuSample sample;
    sample.set_index(index);
    sample.set_uuid(Value(fields[1]));
    sample.set_accessible(true);
    constexpr double kMiB = 1024.0 * 1024.0;
    double value = 0, other = 0;
    if (number(2, &value)) sample.set_utilization_percent(value);
    if (number(3, &value)) sample.set_memory_used_bytes(static_cast<uint64_t>(value * kMiB));
    if (number(4, &value)) sample.set_memory_total_bytes(static_cast<uint64_t>(value * kMiB));
    if (number(5, &value)) {
      sample.set_temperature_c(value);
      sample.set_has_temperature(true);
    }
    if (number(6, &value)) {
      sample.set_power_w(value);
      sample.set_has_power(true);
      if (number(7, &other)) sample.set_power_limit_w(other);
    }
    if (number(8, &value) && number(9, &other)) {
      sample.set_ecc_uncorrectable_errors(static_cast<uint64_t>(value));
      sample.set_ecc_corrected_errors(static_cast<uint64_t>(other));
      sample.set_has_ecc(true);
    }
    if (malformed) return bad("a reading is not a number");
    samples.push_back(std::move(sample));
    return Status::Ok();
  });
  if (!parsed.ok()) return parsed;
  std::sort(samples.begin(), samples.end(),
            [](const auto& a, const auto& b) { return a.index() < b.index(); });
  return samples;
}

Result<std::map<uint32_t, std::vector<uint32_t>>> ParseNvLinkPeers(std::string_view matrix) {
  const std::string text = StripEscapes(matrix);
  const auto lines = Lines(text);
  // The header: tab-separated column names, the first of them GPU0.
  size_t header = lines.size();
  std::vector<std::string_view> columns;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto cells = Split(lines[i], '\t');
    if (cells.size() >= 2 && Trim(cells[0]).empty() && Trim(cells[1]) == "GPU0") {
      header = i;
      columns.assign(cells.begin() + 1, cells.end());
      break;
    }
  }
  if (header == lines.size())
    return Status::InvalidArgument("no GPU0 column in nvidia-smi topo -m");
  std::map<uint32_t, std::vector<uint32_t>> peers;
  for (size_t i = header + 1; i < lines.size(); ++i) {
    const auto cells = Split(lines[i], '\t');
    uint32_t row = 0;
    if (cells.empty() || !GpuName(cells[0], &row)) {
      if (Trim(lines[i]).starts_with("Legend")) break;
      continue;  // A NIC's row, or a blank line.
    }
    auto& linked = peers[row];
    for (size_t c = 1; c < cells.size() && c - 1 < columns.size(); ++c) {
      uint32_t column = 0;
      if (!GpuName(columns[c - 1], &column) || column == row) continue;
      if (Trim(cells[c]).starts_with("NV")) linked.push_back(column);
    }
    std::sort(linked.begin(), linked.end());
  }
  return peers;
}

}  // namespace remotegpu::agent
