// The CMDB routes end to end: the real `remotegpu serve` (embedded
// PostgreSQL) driven over real HTTP.
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

class CmdbApiTest : public ApiTest {};

TEST_F(CmdbApiTest, HealthReadinessAndMetrics) {
  Reply health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body["data"]["status"], "ok");
  Reply ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_TRUE(ready.body["data"]["projections"].contains("cmdb"));
  Reply metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.raw.find("remotegpu_projection_lag{projection=\"cmdb\"}"), std::string::npos);
  EXPECT_NE(metrics.raw.find("remotegpu_wal_syncs_total"), std::string::npos);
  EXPECT_NE(metrics.raw.find("remotegpu_http_requests_total{method=\"GET\",route=\"/healthz\","
                             "status=\"200\"}"),
            std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("remotegpu_http_request_seconds_bucket{method=\"GET\","
                             "route=\"/readyz\",le=\"+Inf\"}"),
            std::string::npos);
}

TEST_F(CmdbApiTest, OpenApiDocumentListsEveryRouteWithASummary) {
  Reply doc = Get("/api/openapi.json");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.body["openapi"], "3.0.3");
  const auto& paths = doc.body["paths"];
  EXPECT_TRUE(paths["/api/cmdb/hosts/{id}"].contains("get"));
  EXPECT_TRUE(paths["/api/environments/{id}/stop"].contains("post"));
  EXPECT_TRUE(paths["/api/admin/allocations"].contains("post"));
  for (const auto& [path, operations] : paths.items()) {
    for (const auto& [method, operation] : operations.items()) {
      EXPECT_FALSE(operation["summary"].get<std::string>().empty()) << method << " " << path;
    }
  }
}

// The document's paging parameters are the server's: every sortBy a paged
// list names is accepted, and one it does not name is a 400.
TEST_F(CmdbApiTest, OpenApiPagingMatchesWhatEachListAccepts) {
  Reply doc = Get("/api/openapi.json");
  ASSERT_EQ(doc.status, 200);
  int lists = 0;
  for (const auto& [path, operations] : doc.body["paths"].items()) {
    if (!operations.contains("get") || path.find('{') != std::string::npos) continue;
    const auto& parameters = operations["get"]["parameters"];
    for (const auto& parameter : parameters) {
      if (parameter["name"] != "sortBy") continue;
      ++lists;
      for (const auto& column : parameter["schema"]["enum"]) {
        Reply page = Get(path + "?sortBy=" + column.get<std::string>() + "&order=desc&pageSize=5");
        EXPECT_EQ(page.status, 200) << path << " sortBy=" << column << ": " << page.raw;
        EXPECT_TRUE(page.body["data"]["list"].is_array()) << path;
      }
      Reply refused = Get(path + "?sortBy=no_such_column");
      EXPECT_EQ(refused.status, 400) << path << ": " << refused.raw;
    }
  }
  EXPECT_GE(lists, 12);  // Hosts, GPUs, environments, leases, machines, billing, ….
}

TEST_F(CmdbApiTest, RegisterThenReadYourWriteInListAndDetail) {
  Reply created = Post("/api/cmdb/hosts", HostForm("host-e2e-1"));
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["code"], 0);
  const uint64_t position = created.body["data"]["position"].get<uint64_t>();
  EXPECT_GT(position, 0u);

  Reply detail = Get("/api/cmdb/hosts/host-e2e-1", position);
  ASSERT_EQ(detail.status, 200) << detail.raw;
  const auto& host = detail.body["data"];
  EXPECT_EQ(host["name"], "gpu-node-host-e2e-1");
  EXPECT_EQ(host["ip_address"], "10.0.0.7");
  EXPECT_EQ(host["operational_status"], "available");
  EXPECT_EQ(host["usage_status"], "idle");
  EXPECT_EQ(host["gpu_count"], 2);
  EXPECT_EQ(host["rack"], "R12");
  EXPECT_EQ(host["labels"][0], "team=vision");
  ASSERT_EQ(host["gpus"].size(), 2u);
  EXPECT_EQ(host["gpus"][1]["model"], "A100");

  Reply list = Get("/api/cmdb/hosts?region=cn-east&gpu_model=A100&pageSize=10", position);
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_GE(list.body["data"]["total"].get<int>(), 1);
  EXPECT_EQ(list.body["data"]["pageSize"], 10);
  EXPECT_EQ(Get("/api/cmdb/hosts?region=nowhere", position).body["data"]["total"], 0);

  EXPECT_EQ(Get("/api/cmdb/hosts/host-nope").status, 404);
  EXPECT_EQ(Post("/api/cmdb/hosts", HostForm("host-e2e-1")).status, 409);  // Already registered.
}

TEST_F(CmdbApiTest, BadInputIsAClearErrorAndAppendsNothing) {
  const uint64_t before = LogPosition();
  auto expect_400 = [&](nlohmann::json body, const std::string& mentions) {
    Reply reply = Post("/api/cmdb/hosts", body);
    EXPECT_EQ(reply.status, 400) << body.dump();
    EXPECT_EQ(reply.body["reason"], "INVALID_ARGUMENT");
    EXPECT_NE(reply.body["message"].get<std::string>().find(mentions), std::string::npos)
        << reply.body["message"];
  };
  nlohmann::json form = HostForm("host-bad");
  auto with = [&](const std::string& key, nlohmann::json value) {
    nlohmann::json copy = form;
    copy[key] = std::move(value);
    return copy;
  };
  expect_400(with("colour", "blue"), "unknown field 'colour'");
  expect_400(with("cpu_cores", "sixty-four"), "cpu_cores must be an integer");
  expect_400(with("deployment_mode", "vm"), "deployment_mode must be");
  expect_400(with("ssh_port", 70000), "ssh_port must be between");
  nlohmann::json missing = form;
  missing.erase("ip_address");
  expect_400(missing, "ip_address is required");
  expect_400(with("gpus", {{{"index", 0}}}), "gpus[0].model is required");
  expect_400(with("asset", {{"shelf", 3}}), "unknown field 'asset.shelf'");
  Reply not_json = Call(port_, http::verb::post, "/api/cmdb/hosts", "{oops");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(LogPosition(), before);
}

TEST_F(CmdbApiTest, StatusChangesFollowTheTableAndShowInTheChangeLog) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-e2e-2")).status, 201);
  Reply moved = Put("/api/cmdb/assets/host-e2e-2/status",
                    {{"operational_status", "maintenance"}, {"reason", "replace fans"}});
  ASSERT_EQ(moved.status, 200) << moved.raw;
  const uint64_t position = moved.body["data"]["position"].get<uint64_t>();

  Reply refused =
      Put("/api/cmdb/assets/host-e2e-2/status",
          {{"operational_status", "reserved"}, {"reason", "x"}, {"reserved_for", "acme"}});
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.body["reason"], "FAILED_PRECONDITION");
  EXPECT_EQ(
      Put("/api/cmdb/assets/host-e2e-2/status", {{"operational_status", "broken"}, {"reason", "x"}})
          .status,
      400);
  EXPECT_EQ(
      Put("/api/cmdb/assets/host-none/status", {{"operational_status", "faulty"}, {"reason", "x"}})
          .status,
      404);

  Reply changes = Get("/api/cmdb/assets/host-e2e-2/changes?order=desc", position);
  ASSERT_EQ(changes.status, 200) << changes.raw;
  const auto& latest = changes.body["data"]["list"][0];
  EXPECT_EQ(latest["change_type"], "status_change");
  EXPECT_EQ(latest["old_value"], "available");
  EXPECT_EQ(latest["new_value"], "maintenance");
  EXPECT_EQ(latest["reason"], "replace fans");
  EXPECT_EQ(latest["actor"], "user:" + AdminUserId());
  EXPECT_EQ(Get("/api/cmdb/hosts/host-e2e-2", position).body["data"]["operational_status"],
            "maintenance");
}

TEST_F(CmdbApiTest, EditingAHostRecordsEachChangedFieldAndLabelsFilterTheList) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-edit-1")).status, 201);
  nlohmann::json form = HostForm("host-edit-1");
  form.erase("gpus");
  form["memory_mb"] = 1048576;
  form["labels"] = {{"team", "speech"}};
  form["asset"]["rack"] = "R13";
  Reply edited = Call(port_, http::verb::put, "/api/cmdb/hosts/host-edit-1", form.dump());
  ASSERT_EQ(edited.status, 200) << edited.raw;
  EXPECT_EQ(edited.body["data"]["changed"], true);
  const uint64_t position = edited.body["data"]["position"].get<uint64_t>();

  Reply changes = Get("/api/cmdb/assets/host-edit-1/changes?pageSize=50", position);
  std::set<std::string> fields;
  for (const auto& change : changes.body["data"]["list"]) fields.insert(change["field"]);
  EXPECT_TRUE(fields.count("memory_mb")) << changes.raw;
  EXPECT_TRUE(fields.count("rack")) << changes.raw;

  // The same form again changes nothing and appends nothing.
  Reply again = Call(port_, http::verb::put, "/api/cmdb/hosts/host-edit-1", form.dump());
  EXPECT_EQ(again.body["data"]["changed"], false);
  EXPECT_EQ(LogPosition(), position);

  form["host_id"] = "host-other";
  EXPECT_EQ(Call(port_, http::verb::put, "/api/cmdb/hosts/host-edit-1", form.dump()).status, 400);
  form.erase("host_id");
  form["cpu_cores"] = "many";
  EXPECT_EQ(Call(port_, http::verb::put, "/api/cmdb/hosts/host-edit-1", form.dump()).status, 400);
  form["cpu_cores"] = 8;
  EXPECT_EQ(Call(port_, http::verb::put, "/api/cmdb/hosts/host-none", form.dump()).status, 404);
  EXPECT_EQ(LogPosition(), position);

  Reply speech = Get("/api/cmdb/hosts?label=team%3Dspeech", position);
  ASSERT_EQ(speech.status, 200) << speech.raw;
  ASSERT_EQ(speech.body["data"]["total"], 1);
  EXPECT_EQ(speech.body["data"]["list"][0]["host_id"], "host-edit-1");
  EXPECT_EQ(Get("/api/cmdb/hosts?label=team").status, 400);
}

TEST_F(CmdbApiTest, BodiesThatAreNotJsonAre415AndAppendNothing) {
  const uint64_t before = LogPosition();
  Reply form = Call(port_, http::verb::post, "/api/cmdb/hosts", HostForm("host-415").dump(),
                    {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 415) << form.raw;
  EXPECT_EQ(form.body["reason"], "UNSUPPORTED_MEDIA_TYPE");
  Reply charset = Call(port_, http::verb::post, "/api/cmdb/hosts", HostForm("host-415").dump(),
                       {{"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(charset.status, 201) << charset.raw;
  EXPECT_EQ(LogPosition(), charset.body["data"]["position"].get<uint64_t>());
  EXPECT_GT(LogPosition(), before);
}

TEST_F(CmdbApiTest, AuditTrailTimeTravelAndRollbackOverHttp) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-audit-1")).status, 201);
  Reply maintenance = Put("/api/cmdb/assets/host-audit-1/status",
                          {{"operational_status", "maintenance"}, {"reason", "fan"}});
  ASSERT_EQ(maintenance.status, 200) << maintenance.raw;

  Reply audit = Get("/api/audit/events?stream_prefix=host-audit-1&pageSize=1");
  ASSERT_EQ(audit.status, 200) << audit.raw;
  EXPECT_GE(audit.body["data"]["total"].get<int>(), 3);  // Registered, GPUs, status.
  EXPECT_EQ(audit.body["data"]["list"][0]["type"], "OperationalStatusChanged") << "newest first";
  EXPECT_EQ(audit.body["data"]["list"][0]["actor"]["id"], AdminUserId());
  EXPECT_EQ(audit.body["data"]["list"][0]["actor"]["name"], "admin");
  Reply ndjson = Call(port_, http::verb::get, "/api/audit/events?stream_prefix=host-audit-1", "",
                      {{"Accept", "application/x-ndjson"}});
  ASSERT_EQ(ndjson.status, 200);
  EXPECT_NE(ndjson.raw.find("\"trailer\""), std::string::npos);
  Reply csv = Call(port_, http::verb::get, "/api/audit/events?type=HostRegistered&limit=1", "",
                   {{"Accept", "text/csv"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_NE(csv.raw.find("#trailer,count=1,"), std::string::npos) << csv.raw;
  EXPECT_EQ(Get("/api/audit/events?from=soon").status, 400);

  Reply then = Get("/api/cmdb/assets/host-audit-1/state?at=v1");
  ASSERT_EQ(then.status, 200) << then.raw;
  EXPECT_EQ(then.body["data"]["state"]["operational_status"], "available");
  EXPECT_EQ(Get("/api/cmdb/assets/host-audit-1/state").body["data"]["state"]["operational_status"],
            "maintenance");
  EXPECT_EQ(Get("/api/cmdb/assets/host-nope/state").status, 404);

  const uint64_t before = LogPosition();
  Reply dry = Post("/api/cmdb/assets/host-audit-1/rollback",
                   {{"to_version", 1}, {"reason", "undo"}, {"dry_run", true}});
  ASSERT_EQ(dry.status, 200) << dry.raw;
  EXPECT_EQ(dry.body["data"]["events"].size(), 1u);
  EXPECT_EQ(LogPosition(), before);
  EXPECT_EQ(Post("/api/cmdb/assets/host-audit-1/rollback", {{"to_version", 1}}).status, 400);
  Reply rolled =
      Post("/api/cmdb/assets/host-audit-1/rollback", {{"to_version", 1}, {"reason", "undo"}});
  ASSERT_EQ(rolled.status, 200) << rolled.raw;
  Reply host = Get("/api/cmdb/hosts/host-audit-1", rolled.body["data"]["position"].get<uint64_t>());
  EXPECT_EQ(host.body["data"]["operational_status"], "available");
}

TEST_F(CmdbApiTest, RebuildOnRequestSwapsInFreshReadModelsWhileQueriesAnswer) {
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-rebuild-1")).status, 201);
  const uint64_t position = LogPosition();
  Reply before = Get("/api/cmdb/hosts/host-rebuild-1", position);
  ASSERT_EQ(before.status, 200);
  Reply started = Post("/api/admin/projections/rebuild", nlohmann::json::object());
  ASSERT_EQ(started.status, 202) << started.raw;
  // Queries answer all along; the rebuild ends with the swap.
  nlohmann::json rebuild;
  for (int i = 0; i < 600; ++i) {
    EXPECT_EQ(Get("/api/cmdb/hosts/host-rebuild-1").status, 200);
    rebuild = Get("/api/admin/projections").body["data"]["rebuild"];
    if (rebuild["running"] == false) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(rebuild["running"], false) << rebuild.dump();
  EXPECT_EQ(rebuild["phase"], "done") << rebuild.dump();
  EXPECT_EQ(rebuild["error"], "");
  Reply after = Get("/api/cmdb/hosts/host-rebuild-1", position);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body["data"]["name"], before.body["data"]["name"]);
  // The projections follow new commits into the rebuilt schema.
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-rebuild-2")).status, 201);
  EXPECT_EQ(Get("/api/cmdb/hosts/host-rebuild-2", LogPosition()).status, 200);
}

}  // namespace
TEST_F(CmdbApiTest, RebuildOfOneProjectionOnRequest) {
  Reply unknown =
      Post("/api/admin/projections/rebuild", {{"projections", nlohmann::json::array({"nope"})}});
  EXPECT_EQ(unknown.status, 400) << unknown.raw;
  EXPECT_EQ(Post("/api/admin/projections/rebuild", {{"projections", "cmdb"}}).status, 400);
  EXPECT_EQ(Post("/api/admin/projections/rebuild", {{"everything", true}}).status, 400);

  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-partial-1")).status, 201);
  Get("/api/cmdb/hosts/host-partial-1", LogPosition());
  Reply started =
      Post("/api/admin/projections/rebuild", {{"projections", nlohmann::json::array({"cmdb"})}});
  ASSERT_EQ(started.status, 202) << started.raw;
  EXPECT_EQ(started.body["data"]["projections"], nlohmann::json::array({"cmdb"}));
  nlohmann::json rebuild;
  for (int i = 0; i < 600; ++i) {
    rebuild = Get("/api/admin/projections").body["data"]["rebuild"];
    if (rebuild["running"] == false) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(rebuild["phase"], "done") << rebuild.dump();
  EXPECT_EQ(rebuild["error"], "");
  EXPECT_EQ(Get("/api/cmdb/hosts/host-partial-1").status, 200);
  ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-partial-2")).status, 201);
  EXPECT_EQ(Get("/api/cmdb/hosts/host-partial-2", LogPosition()).status, 200);
}

}  // namespace remotegpu::api
