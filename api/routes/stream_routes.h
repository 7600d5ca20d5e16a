// Stream routes: connections the server keeps open and writes to as things
// happen (WebSocket, or server-sent events for clients that ask for
// text/event-stream).
#pragma once

#include "api/app/event_feed.h"
#include "api/app/metrics_feed.h"
#include "api/http/router.h"

namespace remotegpu::api {

struct StreamApi {
  EventFeed* feed = nullptr;
  eventstore::EventStore* store = nullptr;
  MetricsFeed* metrics = nullptr;
};

// GET /ws/events: the caller's events live (an admin's: all; a customer's
// user's: its own streams, see EventFeed), filtered by ?prefix= and ?type=
// (comma-separated), from ?from= (a log position, at most the next one; 412
// beyond) or from now on. A client that was dropped resumes with
// ?from=<last position + 1>.
//
// GET /ws/admin/monitoring (admins): live host and GPU metrics as agents post
// them (see MetricsFeed), ?host_id= (comma-separated, at most 64) to watch
// some hosts only.
void AddStreamRoutes(Router& router, StreamApi& api);

}  // namespace remotegpu::api
