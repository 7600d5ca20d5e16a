// One `remotegpu serve` (embedded PostgreSQL, any free port) per test
// suite, and helpers to call it over real HTTP.
#pragma once

#include <sys/wait.h>

#include <gtest/gtest.h>

#include "tests/api/http_client.h"
#include "tests/api/server_process.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::api {

using testing_http::Call;
namespace http = testing_http::http;
using testing_http::Reply;

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto child = Subprocess::Spawn(
        {REMOTEGPU_BIN, "serve", "--data-dir", dir_->Sub("data"), "--listen", "127.0.0.1:0"},
        {.capture_stdout = true, .merge_stderr = true});
    ASSERT_TRUE(child.ok());
    server_ = new Subprocess(std::move(*child));
    std::string output = testing_process::ReadUntil(*server_, "ready:");
    port_ = testing_process::PortFrom(output);
    ASSERT_NE(port_, 0) << output;
    ASSERT_EQ(testing_http::LogInAsAdmin(port_).status, 200);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(WEXITSTATUS(testing_process::Terminate(*server_)), 0);
    delete server_;
    delete dir_;
  }

  static Reply Get(const std::string& target, uint64_t min_position = 0) {
    std::map<std::string, std::string> headers;
    if (min_position > 0) headers["X-Min-Position"] = std::to_string(min_position);
    return Call(port_, http::verb::get, target, "", headers);
  }
  static Reply Post(const std::string& target, const nlohmann::json& body) {
    return Call(port_, http::verb::post, target, body.dump());
  }
  static Reply Put(const std::string& target, const nlohmann::json& body) {
    return Call(port_, http::verb::put, target, body.dump());
  }
  // Calls as `authorization` ("Bearer …"; empty: no credentials).
  static Reply As(const std::string& authorization, http::verb verb, const std::string& target,
                  const nlohmann::json& body = nullptr) {
    return Call(port_, verb, target, body.is_null() ? "" : body.dump(),
                {{"Authorization", authorization}});
  }
  static Reply Anonymous(http::verb verb, const std::string& target,
                         const nlohmann::json& body = nullptr) {
    return As("", verb, target, body);
  }

  // A customer (at `quota_level`) with one user; returns "Bearer <token>"
  // for that user.
  static std::string CustomerUser(const std::string& company, const std::string& username,
                                  std::string* customer_id = nullptr,
                                  const std::string& quota_level = "pro") {
    Reply customer =
        Post("/api/admin/customers", {{"name", company}, {"quota_level", quota_level}});
    EXPECT_EQ(customer.status, 201) << customer.raw;
    const std::string id = customer.body["data"]["customer_id"].get<std::string>();
    if (customer_id != nullptr) *customer_id = id;
    Reply user =
        Post("/api/admin/users",
             {{"username", username}, {"password", "a good password 7"}, {"customer_id", id}});
    EXPECT_EQ(user.status, 201) << user.raw;
    Reply login = Anonymous(http::verb::post, "/api/auth/login",
                            {{"username", username}, {"password", "a good password 7"}});
    EXPECT_EQ(login.status, 200) << login.raw;
    return "Bearer " + login.body["data"]["token"].get<std::string>();
  }

  // The first admin's user id, whom every call of these tests acts as.
  static std::string AdminUserId() {
    return Get("/api/users/me").body["data"]["user_id"].get<std::string>();
  }
  static uint64_t LogPosition() {
    return Get("/readyz").body["data"]["log_position"].get<uint64_t>();
  }

  static nlohmann::json HostForm(const std::string& id) {
    return {{"host_id", id},
            {"name", "gpu-node-" + id},
            {"ip_address", "10.0.0.7"},
            {"ssh_port", 22},
            {"cpu_cores", 64},
            {"memory_mb", 524288},
            {"region", "cn-east"},
            {"deployment_mode", "docker"},
            {"labels", {{"team", "vision"}}},
            {"asset", {{"rack", "R12"}, {"unit", 17}}},
            {"gpus",
             {{{"index", 0}, {"model", "A100"}, {"memory_mb", 81920}},
              {{"index", 1}, {"model", "A100"}, {"memory_mb", 81920}}}}};
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline Subprocess* server_ = nullptr;
  static inline uint16_t port_ = 0;
};

}  // namespace remotegpu::api
