#include "projections/embedded_postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include "common/sha256.h"
#include "common/subprocess.h"

namespace remotegpu::projections {
namespace fs = std::filesystem;
namespace {

// pg_hba.conf of a cluster: local and loopback connections, each with the
// password.
constexpr char kPasswordHba[] =
    "# Written by RemoteGPU: every connection authenticates with the password.\n"
    "local all all scram-sha-256\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "host all all ::1/128 scram-sha-256\n";

Result<std::string> FindBinDir() {
  const fs::path root = "/usr/lib/postgresql";
  std::error_code ec;
  int best = -1;
  std::string best_dir;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best && fs::exists(entry.path() / "bin" / "pg_ctl")) {
      best = version;
      best_dir = (entry.path() / "bin").string();
    }
  }
  if (best < 0) {
    return Status::NotFound("no PostgreSQL server under /usr/lib/postgresql; run ./scripts/setup");
  }
  return best_dir;
}

// 32 hex digits from the kernel's random source.
Result<std::string> NewPassword() {
  std::ifstream random("/dev/urandom", std::ios::binary);
  unsigned char bytes[16];
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
    return Status::IoError("cannot read /dev/urandom");
  }
  return ToHex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

// Writes `text` to `path` readable by its owner only (created that way, never
// briefly open to others).
Status WritePrivate(const fs::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot write " + path.string());
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) return Status::IoError("cannot write " + path.string());
  return Status::Ok();
}

Status GiveTo(const std::string& user, const fs::path& dir) {
  auto ids = LookupUser(user);
  if (!ids) return Status::NotFound("user " + user + " does not exist");
  if (chown(dir.c_str(), ids->uid, ids->gid) != 0) {
    return Status::IoError("cannot hand " + dir.string() + " to " + user);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::Start(EmbeddedPostgresOptions options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("PostgreSQL data dir is empty");
  if (options.bin_dir.empty()) {
    auto bin_dir = FindBinDir();
    if (!bin_dir.ok()) return bin_dir.status();
    options.bin_dir = *bin_dir;
  }
  std::unique_ptr<EmbeddedPostgres> pg(new EmbeddedPostgres(std::move(options)));
  if (geteuid() == 0) pg->run_as_ = "postgres";
  fs::path base = fs::absolute(pg->options_.data_dir);
  pg->cluster_dir_ = (base / "cluster").string();
  pg->socket_dir_ = (base / "run").string();
  // A unix socket path must fit in 107 bytes.
  if (pg->socket_dir_.size() + sizeof("/.s.PGSQL.65535") > 107) {
    return Status::InvalidArgument("PostgreSQL data dir path is too long for a unix socket: " +
                                   pg->socket_dir_);
  }
  std::error_code ec;
  fs::create_directories(pg->socket_dir_, ec);
  if (ec) return Status::IoError("cannot create " + pg->socket_dir_ + ": " + ec.message());
  // The socket's directory is the server user's alone: no other local user
  // reaches the socket, whatever the authentication.
  fs::permissions(pg->socket_dir_, fs::perms::owner_all, ec);
  if (ec) return Status::IoError("cannot make " + pg->socket_dir_ + " private: " + ec.message());
  if (!pg->run_as_.empty()) {
    // The server user must be able to reach its directories.
    fs::permissions(base, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec,
                    ec);
    RGPU_RETURN_IF_ERROR(GiveTo(pg->run_as_, pg->socket_dir_));
  }
  RGPU_RETURN_IF_ERROR(pg->LoadPassword(base / "password"));
  RGPU_RETURN_IF_ERROR(pg->InitIfNeeded());

  SpawnOptions as_server;
  as_server.run_as_user = pg->run_as_;
  std::string server_options =
      "-c listen_addresses=" + std::string(pg->options_.tcp_port > 0 ? "127.0.0.1" : "''") +
      " -c unix_socket_directories=" + pg->socket_dir_ + " -c unix_socket_permissions=0700";
  if (pg->options_.tcp_port > 0) server_options += " -p " + std::to_string(pg->options_.tcp_port);
  // A server killed without stopping leaves its PostgreSQL running; the
  // caller holds the data directory (the event log's lock), so that
  // PostgreSQL is ours to adopt.
  if (RunCommand({pg->options_.bin_dir + "/pg_ctl", "status", "-D", pg->cluster_dir_}, as_server)
          .ok()) {
    if (pg->options_.borrow_running) return pg;  // running_ stays false: Stop leaves it.
    spdlog::warn("adopting the PostgreSQL left running in {} by a server that did not stop cleanly",
                 pg->cluster_dir_);
    pg->running_ = true;
    RGPU_RETURN_IF_ERROR(pg->RequirePasswords());
    return pg;
  }
  auto started =
      RunCommand({pg->options_.bin_dir + "/pg_ctl", "start", "-w", "-t", "60", "-D",
                  pg->cluster_dir_, "-l", pg->cluster_dir_ + "/server.log", "-o", server_options},
                 as_server);
  if (!started.ok()) {
    std::ifstream log(pg->cluster_dir_ + "/server.log");
    std::string tail((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (tail.size() > 2000) tail = tail.substr(tail.size() - 2000);
    return Status::IoError("PostgreSQL did not start: " + started.status().message() +
                           "\nserver.log:\n" + tail);
  }
  pg->running_ = true;
  RGPU_RETURN_IF_ERROR(pg->RequirePasswords());
  spdlog::info("embedded PostgreSQL is running in {} (socket {})", pg->cluster_dir_,
               pg->socket_dir_);
  return pg;
}

Status EmbeddedPostgres::LoadPassword(const fs::path& file) {
  if (std::ifstream in(file); in) {
    std::getline(in, password_);
    if (!password_.empty()) return Status::Ok();
  }
  // A cluster that requires a password we no longer have cannot be opened
  // with a new one: say so rather than fail to connect later.
  if (fs::exists(fs::path(cluster_dir_) / "PG_VERSION") && !Trusting()) {
    return Status::FailedPrecondition(
        "the embedded PostgreSQL in " + cluster_dir_ + " requires the password kept in " +
        file.string() + ", which is missing: restore it from a backup of the data directory");
  }
  auto made = NewPassword();
  if (!made.ok()) return made.status();
  password_ = *made;
  return WritePrivate(file, password_ + "\n");
}

bool EmbeddedPostgres::Trusting() const {
  std::ifstream in(fs::path(cluster_dir_) / "pg_hba.conf");
  bool trusting = false;
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));  // Comments mention trust too.
    std::istringstream words(line);
    for (std::string word; words >> word;) trusting |= word == "trust";
  }
  return trusting;
}

Status EmbeddedPostgres::RequirePasswords() {
  // A cluster made by an earlier version trusted every local connection:
  // give `postgres` the password (as a scram verifier, whatever the
  // server's password_encryption), then require it from now on.
  if (!Trusting()) return Status::Ok();
  const std::string conninfo =
      "host=" + socket_dir_ + " user=postgres dbname=postgres" +
      (options_.tcp_port > 0 ? " port=" + std::to_string(options_.tcp_port) : std::string());
  PGconn* connection = PQconnectdb(conninfo.c_str());
  Status set = Status::Ok();
  if (PQstatus(connection) != CONNECTION_OK) {
    set = Status::IoError(std::string("connecting: ") + PQerrorMessage(connection));
  } else if (char* verifier =
                 PQencryptPasswordConn(connection, password_.c_str(), "postgres", "scram-sha-256");
             verifier == nullptr) {
    set = Status::IoError(std::string("making the verifier: ") + PQerrorMessage(connection));
  } else {
    // The verifier is base64, digits and '$', ':', '+', '/', '=': no quote.
    PGresult* altered = PQexec(
        connection, ("ALTER ROLE postgres PASSWORD '" + std::string(verifier) + "'").c_str());
    PQfreemem(verifier);
    if (PQresultStatus(altered) != PGRES_COMMAND_OK) {
      set = Status::IoError(std::string("setting the password: ") + PQerrorMessage(connection));
    }
    PQclear(altered);
  }
  if (set.ok()) {
    // A new file renamed over the old one: a crash leaves one or the other.
    const fs::path hba = fs::path(cluster_dir_) / "pg_hba.conf";
    const fs::path fresh = fs::path(cluster_dir_) / "pg_hba.conf.new";
    set = WritePrivate(fresh, kPasswordHba);
    if (set.ok() && !run_as_.empty()) set = GiveTo(run_as_, fresh);
    std::error_code ec;
    if (set.ok()) fs::rename(fresh, hba, ec);
    if (set.ok() && ec)
      set = Status::IoError("cannot replace " + hba.string() + ": " + ec.message());
    if (set.ok()) {
      PGresult* reloaded = PQexec(connection, "SELECT pg_reload_conf()");
      if (PQresultStatus(reloaded) != PGRES_TUPLES_OK) {
        set = Status::IoError(std::string("reloading: ") + PQerrorMessage(connection));
      }
      PQclear(reloaded);
    }
  }
  PQfinish(connection);
  if (!set.ok()) {
    return Status::IoError("requiring passwords of the embedded PostgreSQL: " + set.message());
  }
  spdlog::warn(
      "the embedded PostgreSQL in {} trusted local connections; it now requires a "
      "password (kept in {})",
      cluster_dir_, (fs::path(options_.data_dir) / "password").string());
  return Status::Ok();
}

Status EmbeddedPostgres::InitIfNeeded() {
  if (fs::exists(fs::path(cluster_dir_) / "PG_VERSION")) return Status::Ok();
  std::error_code ec;
  fs::create_directories(cluster_dir_, ec);
  if (ec) return Status::IoError("cannot create " + cluster_dir_ + ": " + ec.message());
  if (!run_as_.empty()) RGPU_RETURN_IF_ERROR(GiveTo(run_as_, cluster_dir_));
  SpawnOptions as_server;
  as_server.run_as_user = run_as_;
  // Every connection authenticates with the password (scram-sha-256), the
  // socket's directory is private as well: a local user gets neither.
  // initdb reads the password from a file in that private directory.
  const fs::path pwfile = fs::path(socket_dir_) / "initdb-password";
  RGPU_RETURN_IF_ERROR(WritePrivate(pwfile, password_ + "\n"));
  if (!run_as_.empty()) RGPU_RETURN_IF_ERROR(GiveTo(run_as_, pwfile));
  auto init = RunCommand(
      {options_.bin_dir + "/initdb", "-D", cluster_dir_, "-U", "postgres", "--auth=scram-sha-256",
       "--pwfile=" + pwfile.string(), "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"},
      as_server);
  fs::remove(pwfile, ec);
  if (!init.ok()) {
    std::string hint = run_as_.empty() ? ""
                                       : "\n(PostgreSQL runs as user " + run_as_ +
                                             ": every parent directory of " + cluster_dir_ +
                                             " must be traversable by it, e.g. chmod o+x)";
    return Status::IoError("initdb failed: " + init.status().message() + hint);
  }
  if (!options_.extra_config.empty()) {
    std::ofstream conf(cluster_dir_ + "/postgresql.conf", std::ios::app);
    conf << "\n# Added by RemoteGPU\n" << options_.extra_config << "\n";
    if (!conf) return Status::IoError("cannot append to postgresql.conf in " + cluster_dir_);
  }
  return Status::Ok();
}

Status EmbeddedPostgres::Stop() {
  if (!running_) return Status::Ok();
  running_ = false;
  SpawnOptions as_server;
  as_server.run_as_user = run_as_;
  auto stopped = RunCommand(
      {options_.bin_dir + "/pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", cluster_dir_},
      as_server);
  if (!stopped.ok()) return stopped.status();
  return Status::Ok();
}

EmbeddedPostgres::~EmbeddedPostgres() {
  Status s = Stop();
  if (!s.ok()) spdlog::warn("stopping embedded PostgreSQL: {}", s.ToString());
}

std::string EmbeddedPostgres::ConnectionString(const std::string& dbname) const {
  std::string conn =
      "host=" + socket_dir_ + " user=postgres password=" + password_ + " dbname=" + dbname;
  if (options_.tcp_port > 0) conn += " port=" + std::to_string(options_.tcp_port);
  return conn;
}

}  // namespace remotegpu::projections
