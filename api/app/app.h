// The server as an object: `remotegpu serve`'s parts built from its config
// on one clock, so that a test (or another program) can run the whole server
// in-process, on a ManualClock, and drive the process managers itself.
//
//   Build   opens the log, starts PostgreSQL (embedded unless --pg-url), the
//           projections, the command side's indexes and services, the
//           routes and the HTTP server, in dependency order
//   Tick    one round of the process managers: offline detection, lease
//           expiry, the allocation reconciler, metrics upkeep and metering
//           when due (by the clock); the ticker thread calls it unless
//           config.ticker is off
//   Stop    the reverse order: HTTP (in-flight requests finish, parked ones
//           are answered, streams closed), the feed, the ticker, indexes,
//           projections, relay, log, PostgreSQL
//
// Thread-safety: Build once; port, Tick and Stop from any thread; Stop once
// (the destructor calls it).
#pragma once

#include <memory>

#include "api/app/serve.h"
#include "common/clock.h"
#include "common/status.h"

namespace remotegpu::api {

class App {
 public:
  // Everything started and serving; on error nothing is left running.
  static Result<std::unique_ptr<App>> Build(const ServeConfig& config, const Clock& clock);
  ~App();

  uint16_t port() const;
  // Where the read models are (the embedded PostgreSQL's when no --pg-url).
  const std::string& conninfo() const;
  void Tick();
  // Returns a non-OK status only when the embedded PostgreSQL failed to stop.
  Status Stop();

  struct Parts;

 private:
  explicit App(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace remotegpu::api
