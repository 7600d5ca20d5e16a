#include "projections/metrics_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <string_view>

#include <libpq-fe.h>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace remotegpu::projections {
namespace {

constexpr int64_t kHourUs = 3'600'000'000;
constexpr int64_t kDayUs = 24 * kHourUs;

// A column of a raw table and how its hourly aggregate is made from it
// (null: not in the hourly table).
struct Column {
  const char* name;
  const char* type;
  const char* rollup;
};

constexpr Column kHostColumns[] = {
    {"cpu_usage_percent", "real", "avg"},
    {"load_1m", "real", "avg"},
    {"load_5m", "real", "avg"},
    {"load_15m", "real", "avg"},
    {"cpu_cores", "integer", "max"},
    {"memory_total_bytes", "bigint", "max"},
    {"memory_available_bytes", "bigint", "avg"},
    {"memory_usage_percent", "real", "avg"},
    {"disk_total_bytes", "bigint", "max"},
    {"disk_available_bytes", "bigint", "avg"},
    {"disk_usage_percent", "real", "avg"},
    // Running totals: the hour's last value.
    {"disk_read_bytes", "bigint", "max"},
    {"disk_write_bytes", "bigint", "max"},
    {"network_rx_bytes", "bigint", "max"},
    {"network_tx_bytes", "bigint", "max"},
    {"network_rx_packets", "bigint", "max"},
    {"network_tx_packets", "bigint", "max"},
    {"gpu_count", "integer", "max"},
    {"gpu_avg_utilization", "real", "avg"},
    {"gpu_avg_memory_used_bytes", "bigint", "avg"},
    {"gpu_avg_temperature", "real", "avg"},
    {"gpu_avg_power_w", "real", "avg"},
};
// Hourly extras beside the averages.
constexpr const char* kHostExtras = "cpu_usage_max real, gpu_max_temperature real";
constexpr const char* kHostExtrasRollup = "max(cpu_usage_percent), max(gpu_avg_temperature)";

constexpr Column kGpuColumns[] = {
    {"accessible", "boolean", "bool_and"},     {"utilization_percent", "real", "avg"},
    {"memory_used_bytes", "bigint", "avg"},    {"memory_total_bytes", "bigint", "max"},
    {"temperature_c", "real", "avg"},          {"power_w", "real", "avg"},
    {"power_limit_w", "real", "max"},          {"ecc_uncorrectable_errors", "bigint", "max"},
    {"ecc_corrected_errors", "bigint", "max"}, {"xid_errors", "integer[]", nullptr},
};
constexpr const char* kGpuExtras =
    "utilization_max real, temperature_max real, power_max real, xid_events integer";
constexpr const char* kGpuExtrasRollup =
    "max(utilization_percent), max(temperature_c), max(power_w), "
    "sum(coalesce(cardinality(xid_errors), 0))";

// "20261123" for the day holding `us`.
std::string DayName(int64_t us) {
  const time_t seconds = static_cast<time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  std::snprintf(text, sizeof text, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return text;
}

int64_t FloorTo(int64_t us, int64_t unit) { return us - ((us % unit) + unit) % unit; }

// One row of COPY's text format.
class CopyRow {
 public:
  explicit CopyRow(std::string& out) : out_(out) {}
  ~CopyRow() { out_.push_back('\n'); }
  CopyRow& Text(const std::string& value) {
    Separate();
    for (char c : value) {
      switch (c) {
        case '\\':
          out_ += "\\\\";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        default:
          out_.push_back(c);
      }
    }
    return *this;
  }
  template <typename Number>
  CopyRow& Num(Number value) {
    Separate();
    char text[32];
    auto [end, error] = std::to_chars(text, text + sizeof text, value);
    out_.append(text, end);
    return *this;
  }
  CopyRow& Null() {
    Separate();
    out_ += "\\N";
    return *this;
  }
  CopyRow& Bool(bool value) {
    Separate();
    out_.push_back(value ? 't' : 'f');
    return *this;
  }

 private:
  void Separate() {
    if (!first_) out_.push_back('\t');
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
};

template <size_t N>
std::string ColumnList(const Column (&columns)[N], bool hourly) {
  std::string out;
  for (const auto& column : columns) {
    if (hourly && column.rollup == nullptr) continue;
    out += std::string(", ") + column.name;
  }
  return out;
}

template <size_t N>
std::string ColumnDefinitions(const Column (&columns)[N], bool hourly) {
  std::string out;
  for (const auto& column : columns) {
    if (hourly && column.rollup == nullptr) continue;
    out += std::string(", ") + column.name + " " + column.type;
  }
  return out;
}

template <size_t N>
std::string Rollups(const Column (&columns)[N]) {
  std::string out;
  for (const auto& column : columns) {
    if (column.rollup == nullptr) continue;
    out += std::string(", ") + column.rollup + "(" + column.name + ")::" + column.type;
  }
  return out;
}

template <size_t N>
std::string UpdateAll(const Column (&columns)[N], const std::string& extras) {
  std::string out = "samples = EXCLUDED.samples";
  for (const auto& column : columns) {
    if (column.rollup == nullptr) continue;
    out += std::string(", ") + column.name + " = EXCLUDED." + column.name;
  }
  // "a real, b real" -> ", a = EXCLUDED.a, b = EXCLUDED.b"
  size_t at = 0;
  while (at < extras.size()) {
    size_t end = extras.find(',', at);
    if (end == std::string::npos) end = extras.size();
    std::string part = extras.substr(at, end - at);
    part = part.substr(part.find_first_not_of(' '));
    const std::string name = part.substr(0, part.find(' '));
    out += ", " + name + " = EXCLUDED." + name;
    at = end + 1;
  }
  return out;
}

void AppendHostRow(std::string& out, const std::string& host_id, const domain::HostSample& s) {
  auto percent_used = [](uint64_t available, uint64_t total) {
    return total == 0 ? 0.0
                      : 100.0 * static_cast<double>(total - std::min(available, total)) /
                            static_cast<double>(total);
  };
  double utilization = 0, temperature = 0, power = 0;
  uint64_t memory_used = 0;
  int temperatures = 0, powers = 0;
  for (const auto& gpu : s.gpus()) {
    utilization += gpu.utilization_percent();
    memory_used += gpu.memory_used_bytes();
    if (gpu.has_temperature()) temperature += gpu.temperature_c(), ++temperatures;
    if (gpu.has_power()) power += gpu.power_w(), ++powers;
  }
  const int gpus = s.gpus_size();
  CopyRow row(out);
  row.Text(host_id).Text(FormatRfc3339(s.collected_at_us()));
  row.Num(s.cpu_usage_percent()).Num(s.load_1m()).Num(s.load_5m()).Num(s.load_15m());
  row.Num(s.cpu_cores());
  row.Num(s.memory_total_bytes()).Num(s.memory_available_bytes());
  row.Num(percent_used(s.memory_available_bytes(), s.memory_total_bytes()));
  row.Num(s.disk_total_bytes()).Num(s.disk_available_bytes());
  row.Num(percent_used(s.disk_available_bytes(), s.disk_total_bytes()));
  row.Num(s.disk_read_bytes()).Num(s.disk_write_bytes());
  row.Num(s.network_rx_bytes()).Num(s.network_tx_bytes());
  row.Num(s.network_rx_packets()).Num(s.network_tx_packets());
  row.Num(gpus);
  if (gpus == 0) {
    row.Null().Null().Null().Null();
    return;
  }
  row.Num(utilization / gpus).Num(memory_used / static_cast<uint64_t>(gpus));
  if (temperatures > 0)
    row.Num(temperature / temperatures);
  else
    row.Null();
  if (powers > 0)
    row.Num(power / powers);
  else
    row.Null();
}

void AppendGpuRow(std::string& out, const std::string& host_id, int64_t at_us,
                  const domain::GpuSample& g) {
  CopyRow row(out);
  row.Text(host_id).Num(g.index()).Text(g.uuid()).Text(FormatRfc3339(at_us));
  row.Bool(g.accessible());
  if (!g.accessible()) {
    for (int i = 0; i < 9; ++i) row.Null();
    return;
  }
  row.Num(g.utilization_percent()).Num(g.memory_used_bytes()).Num(g.memory_total_bytes());
  if (g.has_temperature())
    row.Num(g.temperature_c());
  else
    row.Null();
  if (g.has_power())
    row.Num(g.power_w()).Num(g.power_limit_w());
  else
    row.Null().Null();
  if (g.has_ecc()) {
    row.Num(g.ecc_uncorrectable_errors()).Num(g.ecc_corrected_errors());
  } else {
    row.Null().Null();
  }
  std::string xids = "{";
  for (int i = 0; i < g.xid_errors_size(); ++i) {
    xids += (i ? "," : "") + std::to_string(g.xid_errors(i));
  }
  row.Text(xids + "}");
}

Status Exec(PGconn* connection, const char* sql) {
  PGresult* result = PQexec(connection, sql);
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  if (!ok) return Status::IoError(std::string(sql) + ": " + PQerrorMessage(connection));
  return Status::Ok();
}

// COPY `text` into `table` over a libpq connection; the error otherwise.
Status CopyInto(PGconn* connection, const std::string& table, const std::string& columns,
                const std::string& text) {
  if (text.empty()) return Status::Ok();
  PGresult* started =
      PQexec(connection, ("COPY " + table + " (" + columns + ") FROM STDIN").c_str());
  const bool copying = PQresultStatus(started) == PGRES_COPY_IN;
  PQclear(started);
  if (!copying) return Status::IoError(std::string("COPY: ") + PQerrorMessage(connection));
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < text.size(); at += kChunk) {
    const size_t size = std::min(kChunk, text.size() - at);
    if (PQputCopyData(connection, text.data() + at, static_cast<int>(size)) != 1) {
      return Status::IoError(std::string("COPY data: ") + PQerrorMessage(connection));
    }
  }
  if (PQputCopyEnd(connection, nullptr) != 1) {
    return Status::IoError(std::string("COPY end: ") + PQerrorMessage(connection));
  }
  Status result = Status::Ok();
  while (PGresult* done = PQgetResult(connection)) {
    if (PQresultStatus(done) != PGRES_COMMAND_OK) {
      // Classes 22 (data exception) and 23 (integrity): the rows themselves
      // are refused, and would be again; anything else may pass.
      const char* state = PQresultErrorField(done, PG_DIAG_SQLSTATE);
      const bool rows_refused =
          state != nullptr && state[0] == '2' && (state[1] == '2' || state[1] == '3');
      const std::string message =
          std::string("COPY into ") + table + ": " + PQresultErrorMessage(done);
      result = rows_refused ? Status::InvalidArgument(message) : Status::IoError(message);
    }
    PQclear(done);
  }
  return result;
}

// Both tables' rows in one transaction: stored whole or not at all.
// InvalidArgument when PostgreSQL refuses the rows themselves.
Status WriteRows(PGconn* connection, const std::string& schema, const std::string& host_text,
                 const std::string& gpu_text) {
  if (PQstatus(connection) != CONNECTION_OK) {
    return Status::IoError(std::string("connecting for metrics: ") + PQerrorMessage(connection));
  }
  Status written = Exec(connection, "BEGIN");
  if (written.ok()) {
    written =
        CopyInto(connection, schema + ".host_metrics",
                 std::string("host_id, collected_at") + ColumnList(kHostColumns, false), host_text);
  }
  if (written.ok()) {
    written = CopyInto(
        connection, schema + ".gpu_metrics",
        std::string("host_id, gpu_index, uuid, collected_at") + ColumnList(kGpuColumns, false),
        gpu_text);
  }
  if (written.ok()) written = Exec(connection, "COMMIT");
  if (!written.ok() && PQstatus(connection) == CONNECTION_OK) (void)Exec(connection, "ROLLBACK");
  return written;
}

// Rows of one host in COPY text: what a refused batch is split into.
struct HostRows {
  std::string host_text, gpu_text;
  size_t host_rows = 0, gpu_rows = 0;
};

// Groups the COPY lines of both tables by their first field, the host id.
std::map<std::string, HostRows> SplitByHost(const std::string& host_text,
                                            const std::string& gpu_text) {
  std::map<std::string, HostRows> hosts;
  auto split = [&hosts](const std::string& text, bool gpu) {
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size() - 1;
      const std::string_view line(text.data() + start, end + 1 - start);
      HostRows& rows = hosts[std::string(line.substr(0, line.find('\t')))];
      (gpu ? rows.gpu_text : rows.host_text).append(line);
      ++(gpu ? rows.gpu_rows : rows.host_rows);
      start = end + 1;
    }
  };
  split(host_text, false);
  split(gpu_text, true);
  return hosts;
}

// Keeps one host's refused rows in dead_letters with `error`.
Status DeadLetter(PGconn* connection, const std::string& schema, int64_t enqueued_us,
                  const HostRows& rows, const Status& error) {
  // Parameters are C strings: a NUL would cut them (the edge refuses NULs;
  // this only keeps the record whole if one came another way).
  auto printable = [](std::string text) {
    std::replace(text.begin(), text.end(), '\0', ' ');
    return text;
  };
  const std::string enqueued = FormatRfc3339(enqueued_us);
  const std::string message = printable(error.message());
  const std::string host_rows = std::to_string(rows.host_rows);
  const std::string gpu_rows = std::to_string(rows.gpu_rows);
  const std::string host_copy = printable(rows.host_text);
  const std::string gpu_copy = printable(rows.gpu_text);
  const char* values[] = {enqueued.c_str(), message.c_str(),   host_rows.c_str(),
                          gpu_rows.c_str(), host_copy.c_str(), gpu_copy.c_str()};
  const std::string sql = "INSERT INTO " + schema +
                          ".dead_letters (enqueued_at, error, host_rows, gpu_rows, host_copy, "
                          "gpu_copy) VALUES ($1, $2, $3, $4, $5, $6)";
  PGresult* result = PQexecParams(connection, sql.c_str(), 6, nullptr, values, nullptr, nullptr, 0);
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  if (!ok) return Status::IoError(std::string("dead letter: ") + PQerrorMessage(connection));
  return Status::Ok();
}

}  // namespace

// What the writer has not written yet: COPY text of both tables.
struct MetricsStore::Pending {
  std::string host_text, gpu_text;
  size_t host_rows = 0, gpu_rows = 0;
  uint64_t last_seq = 0;
  int64_t first_enqueued_us = 0;  // The server's clock when the first row came.
  int failed_writes = 0;          // Attempts PostgreSQL refused, connection up.
};

MetricsStore::MetricsStore(std::string conninfo, std::string schema, MetricsStoreOptions options)
    : conninfo_(std::move(conninfo)),
      schema_(std::move(schema) + "_metrics"),
      options_(options),
      pending_(std::make_unique<Pending>()) {}

MetricsStore::~MetricsStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
}

Status MetricsStore::Open(int64_t now_us) {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    const std::string& m = schema_;
    tx.exec("CREATE SCHEMA IF NOT EXISTS " + m);
    tx.exec("CREATE TABLE IF NOT EXISTS " + m +
            ".host_metrics (host_id text NOT NULL, collected_at timestamptz NOT NULL" +
            ColumnDefinitions(kHostColumns, false) + ") PARTITION BY RANGE (collected_at)");
    tx.exec("CREATE INDEX IF NOT EXISTS host_metrics_by_host ON " + m +
            ".host_metrics (host_id, collected_at)");
    tx.exec("CREATE TABLE IF NOT EXISTS " + m +
            ".gpu_metrics (host_id text NOT NULL, gpu_index integer NOT NULL, uuid text NOT NULL, "
            "collected_at timestamptz NOT NULL" +
            ColumnDefinitions(kGpuColumns, false) + ") PARTITION BY RANGE (collected_at)");
    tx.exec("CREATE INDEX IF NOT EXISTS gpu_metrics_by_uuid ON " + m +
            ".gpu_metrics (uuid, collected_at)");
    tx.exec("CREATE INDEX IF NOT EXISTS gpu_metrics_by_host ON " + m +
            ".gpu_metrics (host_id, collected_at)");
    tx.exec("CREATE TABLE IF NOT EXISTS " + m +
            ".host_metrics_hourly (host_id text NOT NULL, hour timestamptz NOT NULL, "
            "samples integer NOT NULL" +
            ColumnDefinitions(kHostColumns, true) + ", " + kHostExtras +
            ", PRIMARY KEY (host_id, hour))");
    // Batches PostgreSQL kept refusing, kept for an operator to inspect.
    tx.exec("CREATE TABLE IF NOT EXISTS " + m +
            ".dead_letters (id bigserial PRIMARY KEY, enqueued_at timestamptz NOT NULL, "
            "error text NOT NULL, host_rows integer NOT NULL, gpu_rows integer NOT NULL, "
            "host_copy text NOT NULL, gpu_copy text NOT NULL)");
    tx.exec("CREATE TABLE IF NOT EXISTS " + m +
            ".gpu_metrics_hourly (uuid text NOT NULL, hour timestamptz NOT NULL, "
            "host_id text NOT NULL, gpu_index integer NOT NULL, samples integer NOT NULL" +
            ColumnDefinitions(kGpuColumns, true) + ", " + kGpuExtras +
            ", PRIMARY KEY (uuid, hour))");
    // Hours since the newest aggregate may have samples nobody rolled up
    // (the server stopped before its next maintenance).
    auto newest = tx.exec1("SELECT coalesce(extract(epoch FROM max(hour))::bigint, 0) FROM " + m +
                           ".host_metrics_hourly");
    tx.commit();
    const int64_t oldest_raw = FloorTo(now_us, kDayUs) - options_.raw_retention_days * kDayUs;
    const int64_t from = std::max(newest[0].as<int64_t>() * 1'000'000, oldest_raw);
    std::lock_guard lock(mu_);
    for (int64_t hour = FloorTo(from, kHourUs); hour <= now_us; hour += kHourUs) {
      touched_hours_.insert(hour);
    }
  } catch (const std::exception& e) {
    return Status::IoError(std::string("creating the metrics tables: ") + e.what());
  }
  RGPU_RETURN_IF_ERROR(Maintain(now_us));
  writer_ = std::thread([this] { WriterLoop(); });
  return Status::Ok();
}

Result<MetricsStore::Accepted> MetricsStore::Enqueue(const std::string& host_id,
                                                     const domain::MetricsBatch& batch,
                                                     int64_t now_us) {
  // Rows are formatted outside the lock; only the append is inside.
  const int64_t earliest = now_us - options_.raw_retention_days * kDayUs;
  const int64_t latest = now_us + kDayUs;
  Accepted accepted;
  std::string host_text, gpu_text;
  std::set<int64_t> hours;
  for (const auto& sample : batch.samples()) {
    const int64_t at = sample.collected_at_us();
    if (at < earliest || at >= latest) {
      ++accepted.refused;
      continue;
    }
    AppendHostRow(host_text, host_id, sample);
    for (const auto& gpu : sample.gpus()) AppendGpuRow(gpu_text, host_id, at, gpu);
    ++accepted.samples;
    accepted.gpu_rows += sample.gpus_size();
    hours.insert(FloorTo(at, kHourUs));
  }
  std::lock_guard lock(mu_);
  stats_.refused += accepted.refused;
  if (accepted.samples == 0) return accepted;
  const size_t rows = static_cast<size_t>(accepted.samples + accepted.gpu_rows);
  if (queued_rows_ + rows > options_.max_queued_rows) {
    return Status::ResourceExhausted("the metrics queue is full (" + std::to_string(queued_rows_) +
                                     " rows waiting" +
                                     (last_error_.ok() ? "" : "; " + last_error_.message()) + ")");
  }
  if (pending_->host_rows == 0) pending_->first_enqueued_us = now_us;
  pending_->host_text += host_text;
  pending_->gpu_text += gpu_text;
  pending_->host_rows += static_cast<size_t>(accepted.samples);
  pending_->gpu_rows += static_cast<size_t>(accepted.gpu_rows);
  pending_->last_seq = ++enqueued_seq_;
  queued_rows_ += rows;
  touched_hours_.insert(hours.begin(), hours.end());
  if (pending_->host_rows + pending_->gpu_rows >= options_.rows_per_copy) wake_.notify_all();
  return accepted;
}

void MetricsStore::WriterLoop() {
  PGconn* connection = nullptr;
  std::unique_ptr<Pending> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (!batch) {
        wake_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval_ms), [this] {
          return stopping_ || flush_wanted_ ||
                 pending_->host_rows + pending_->gpu_rows >= options_.rows_per_copy;
        });
        flush_wanted_ = false;
        if (pending_->last_seq == 0 || pending_->host_rows == 0) {
          if (stopping_) break;
          continue;
        }
        batch = std::move(pending_);
        pending_ = std::make_unique<Pending>();
      }
    }
    if (connection == nullptr || PQstatus(connection) != CONNECTION_OK) {
      if (connection != nullptr) PQfinish(connection);
      connection = PQconnectdb(conninfo_.c_str());
    }
    // Both tables in one transaction: a failed batch is retried whole,
    // never stored twice.
    Status written = WriteRows(connection, schema_, batch->host_text, batch->gpu_text);
    std::unique_lock lock(mu_);
    last_error_ = written;
    if (written.ok()) {
      queued_rows_ -= batch->host_rows + batch->gpu_rows;
      written_seq_ = batch->last_seq;
      stats_.host_rows += batch->host_rows;
      stats_.gpu_rows += batch->gpu_rows;
      ++stats_.copies;
      batch.reset();
      written_.notify_all();
      continue;
    }
    // PostgreSQL refused the rows themselves: retrying the same batch
    // forever would stop every host's metrics behind it. After a few
    // attempts it is split by host; each host's rows that still fail are set
    // aside (dead-lettered), the others written, and the writer carries on.
    if (written.code() == StatusCode::kInvalidArgument &&
        ++batch->failed_writes >= kWriteAttempts) {
      lock.unlock();
      const Isolated isolated = IsolateByHost(connection, *batch);
      lock.lock();
      queued_rows_ -= isolated.host_rows + isolated.gpu_rows + isolated.dead_rows;
      stats_.host_rows += isolated.host_rows;
      stats_.gpu_rows += isolated.gpu_rows;
      stats_.dead_batches += isolated.dead_hosts;
      stats_.dead_rows += isolated.dead_rows;
      if (batch->host_rows + batch->gpu_rows == 0) {
        written_seq_ = batch->last_seq;
        last_error_ = Status::Ok();
        batch.reset();
        written_.notify_all();
        continue;
      }
      // What is left met a passing error (the connection): tried again.
    }
    spdlog::error("writing metrics: {} ({} samples waiting; retrying)", written.message(),
                  queued_rows_);
    if (stopping_) {
      spdlog::error("metrics: {} samples not written at shutdown", batch->host_rows);
      break;
    }
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
  }
  if (connection != nullptr) PQfinish(connection);
}

MetricsStore::Isolated MetricsStore::IsolateByHost(PGconn* connection, Pending& batch) {
  Isolated out;
  Pending rest;
  for (const auto& [host, rows] : SplitByHost(batch.host_text, batch.gpu_text)) {
    const Status written = WriteRows(connection, schema_, rows.host_text, rows.gpu_text);
    if (written.ok()) {
      out.host_rows += rows.host_rows;
      out.gpu_rows += rows.gpu_rows;
    } else if (written.code() == StatusCode::kInvalidArgument) {
      const Status kept = DeadLetter(connection, schema_, batch.first_enqueued_us, rows, written);
      spdlog::error(
          "metrics: {} host and {} GPU samples of {} were refused {} times ({}); {}",
          rows.host_rows, rows.gpu_rows, host, kWriteAttempts, written.message(),
          kept.ok() ? "kept in " + schema_ + ".dead_letters" : "dropped: " + kept.message());
      ++out.dead_hosts;
      out.dead_rows += rows.host_rows + rows.gpu_rows;
    } else {
      rest.host_text += rows.host_text;
      rest.gpu_text += rows.gpu_text;
      rest.host_rows += rows.host_rows;
      rest.gpu_rows += rows.gpu_rows;
    }
  }
  batch.host_text = std::move(rest.host_text);
  batch.gpu_text = std::move(rest.gpu_text);
  batch.host_rows = rest.host_rows;
  batch.gpu_rows = rest.gpu_rows;
  return out;
}

Status MetricsStore::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = enqueued_seq_;
  flush_wanted_ = true;
  wake_.notify_all();
  if (!written_.wait_for(lock, std::chrono::seconds(60),
                         [&] { return written_seq_ >= target || !last_error_.ok(); })) {
    return Status::IoError("metrics not written within 60 s");
  }
  return last_error_;
}

Status MetricsStore::EnsurePartitions(int64_t now_us) {
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    const int64_t first = FloorTo(now_us - options_.raw_retention_days * kDayUs, kDayUs);
    const int64_t last = FloorTo(now_us + kDayUs, kDayUs);
    for (const char* table : {"host_metrics", "gpu_metrics"}) {
      for (int64_t day = first; day <= last; day += kDayUs) {
        tx.exec("CREATE TABLE IF NOT EXISTS " + schema_ + "." + table + "_p" + DayName(day) +
                " PARTITION OF " + schema_ + "." + table + " FOR VALUES FROM ('" +
                FormatRfc3339(day) + "') TO ('" + FormatRfc3339(day + kDayUs) + "')");
      }
      // Whole days older than the retention go.
      auto children = tx.exec(
          "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
          "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
          "WHERE n.nspname = " +
          tx.quote(schema_) + " AND p.relname = " + tx.quote(table));
      const std::string oldest_kept = std::string(table) + "_p" + DayName(first);
      for (const auto& child : children) {
        const std::string name = child[0].c_str();
        if (name < oldest_kept) {
          tx.exec("DROP TABLE " + schema_ + "." + name);
          spdlog::info("metrics: dropped {} (older than {} days)", name,
                       options_.raw_retention_days);
        }
      }
    }
    tx.exec("DELETE FROM " + schema_ + ".host_metrics_hourly WHERE hour < '" +
            FormatRfc3339(now_us - options_.hourly_retention_days * kDayUs) + "'");
    tx.exec("DELETE FROM " + schema_ + ".gpu_metrics_hourly WHERE hour < '" +
            FormatRfc3339(now_us - options_.hourly_retention_days * kDayUs) + "'");
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("metrics partitions: ") + e.what());
  }
}

Status MetricsStore::RollUp(const std::set<int64_t>& hours) {
  if (hours.empty()) return Status::Ok();
  try {
    pqxx::connection connection(conninfo_);
    pqxx::work tx(connection);
    // One statement per run of consecutive hours.
    for (auto it = hours.begin(); it != hours.end();) {
      const int64_t from = *it;
      int64_t to = from + kHourUs;
      for (++it; it != hours.end() && *it == to; ++it) to += kHourUs;
      const std::string range = " WHERE collected_at >= '" + FormatRfc3339(from) +
                                "' AND collected_at < '" + FormatRfc3339(to) + "'";
      tx.exec("INSERT INTO " + schema_ + ".host_metrics_hourly (host_id, hour, samples" +
              ColumnList(kHostColumns, true) +
              ", cpu_usage_max, gpu_max_temperature) SELECT host_id, "
              "date_trunc('hour', collected_at), count(*)" +
              Rollups(kHostColumns) + ", " + kHostExtrasRollup + " FROM " + schema_ +
              ".host_metrics" + range +
              " GROUP BY 1, 2 ON CONFLICT (host_id, hour) DO UPDATE SET " +
              UpdateAll(kHostColumns, kHostExtras));
      tx.exec("INSERT INTO " + schema_ +
              ".gpu_metrics_hourly (uuid, hour, host_id, gpu_index, samples" +
              ColumnList(kGpuColumns, true) +
              ", utilization_max, temperature_max, power_max, xid_events) SELECT uuid, "
              "date_trunc('hour', collected_at), max(host_id), max(gpu_index), count(*)" +
              Rollups(kGpuColumns) + ", " + kGpuExtrasRollup + " FROM " + schema_ + ".gpu_metrics" +
              range + " GROUP BY 1, 2 ON CONFLICT (uuid, hour) DO UPDATE SET " +
              "host_id = EXCLUDED.host_id, gpu_index = EXCLUDED.gpu_index, " +
              UpdateAll(kGpuColumns, kGpuExtras));
    }
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("metrics hourly roll-up: ") + e.what());
  }
}

Status MetricsStore::Maintain(int64_t now_us) {
  RGPU_RETURN_IF_ERROR(EnsurePartitions(now_us));
  const int64_t current_hour = FloorTo(now_us, kHourUs);
  std::set<int64_t> hours;
  {
    std::lock_guard lock(mu_);
    hours = touched_hours_;
    // Complete hours are done; the current one is rolled up again next time.
    touched_hours_.erase(touched_hours_.begin(), touched_hours_.lower_bound(current_hour));
  }
  if (writer_.joinable()) RGPU_RETURN_IF_ERROR(Flush());
  Status rolled = RollUp(hours);
  if (!rolled.ok()) {
    std::lock_guard lock(mu_);
    touched_hours_.insert(hours.begin(), hours.end());
  }
  return rolled;
}

namespace {

Result<nlohmann::json> Series(const std::string& conninfo, const std::string& table,
                              const std::string& key_column, const std::string& key,
                              const char* time_column, const MetricsQuery& query) {
  try {
    pqxx::connection connection(conninfo);
    pqxx::nontransaction tx(connection);
    const std::string sql = "SELECT coalesce(json_agg(r ORDER BY " + std::string(time_column) +
                            "), '[]')::text FROM (SELECT * FROM " + table + " WHERE " + key_column +
                            " = " + tx.quote(key) + " AND " + time_column + " >= '" +
                            FormatRfc3339(query.from_us) + "' AND " + time_column + " < '" +
                            FormatRfc3339(query.to_us) + "' ORDER BY " + time_column + " LIMIT " +
                            std::to_string(query.limit) + ") r";
    return nlohmann::json::parse(tx.exec1(sql)[0].c_str());
  } catch (const std::exception& e) {
    return Status::IoError(std::string("reading metrics: ") + e.what());
  }
}

}  // namespace

Result<nlohmann::json> MetricsStore::HostSeries(const std::string& host_id,
                                                const MetricsQuery& query) const {
  return query.hourly ? Series(conninfo_, schema_ + ".host_metrics_hourly", "host_id", host_id,
                               "hour", query)
                      : Series(conninfo_, schema_ + ".host_metrics", "host_id", host_id,
                               "collected_at", query);
}

Result<nlohmann::json> MetricsStore::GpuSeries(const std::string& uuid,
                                               const MetricsQuery& query) const {
  return query.hourly
             ? Series(conninfo_, schema_ + ".gpu_metrics_hourly", "uuid", uuid, "hour", query)
             : Series(conninfo_, schema_ + ".gpu_metrics", "uuid", uuid, "collected_at", query);
}

MetricsStore::Stats MetricsStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace remotegpu::projections
