// Product specs over real HTTP: admins create, edit and price them;
// customers see the listed ones only; environments are ordered from a spec
// (a CPU-only spec places without GPUs); bad forms are clear errors that
// write nothing.
#include <gtest/gtest.h>

#include "tests/api/api_fixture.h"

namespace remotegpu::api {
namespace {

class SpecApiTest : public ApiTest {
 protected:
  static void SetUpTestSuite() {
    ApiTest::SetUpTestSuite();
    ASSERT_EQ(Post("/api/cmdb/hosts", HostForm("host-spec-1")).status, 201);
  }
  static nlohmann::json A100Form(const std::string& id, bool listed = true) {
    return {{"spec_id", id},    {"name", "A100 x1"},        {"gpu_model", "A100"},
            {"gpu_count", 1},   {"gpu_memory_gb", 80},      {"cpu_cores", 8},
            {"memory_gb", 64},  {"system_disk_gb", 50},     {"data_disk_gb", 100},
            {"listed", listed}, {"price_per_hour", "12.50"}};
  }
};

TEST_F(SpecApiTest, AdminsPriceSpecsCustomersSeeTheListedOnes) {
  Reply created = Post("/api/specs", A100Form("spec-a100"));
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["data"]["price_per_hour"], "12.50");
  EXPECT_EQ(created.body["data"]["currency"], "CNY");
  ASSERT_EQ(Post("/api/specs", A100Form("spec-hidden", false)).status, 201);

  const std::string user = CustomerUser("Spec Co", "spec-user", nullptr);
  Reply seen = As(user, http::verb::get, "/api/specs");
  ASSERT_EQ(seen.status, 200) << seen.raw;
  std::set<std::string> ids;
  for (const auto& spec : seen.body["data"]["list"]) ids.insert(spec["spec_id"]);
  EXPECT_TRUE(ids.contains("spec-a100"));
  EXPECT_FALSE(ids.contains("spec-hidden"));
  EXPECT_EQ(As(user, http::verb::get, "/api/specs/spec-hidden").status, 404);
  EXPECT_EQ(Get("/api/specs/spec-hidden").status, 200);  // Admins see every spec.
  EXPECT_EQ(As(user, http::verb::post, "/api/specs", A100Form("spec-mine")).status, 403);

  // A price change from a later time; the current price stays.
  Reply priced = Post("/api/specs/spec-a100/price",
                      {{"price_per_hour", "15"}, {"effective_at", "2099-01-01T00:00:00Z"}});
  ASSERT_EQ(priced.status, 200) << priced.raw;
  Reply after = Get("/api/specs/spec-a100");
  EXPECT_EQ(after.body["data"]["price_per_hour"], "12.50");
  ASSERT_EQ(after.body["data"]["prices"].size(), 2u);
  EXPECT_EQ(after.body["data"]["prices"][1]["price_per_hour"], "15.00");
  // Backwards is refused, and nothing is written.
  const uint64_t before = LogPosition();
  Reply past = Post("/api/specs/spec-a100/price",
                    {{"price_per_hour", "1.00"}, {"effective_at", "2020-01-01T00:00:00Z"}});
  EXPECT_EQ(past.status, 409) << past.raw;
  EXPECT_EQ(LogPosition(), before);

  // Unlisting hides it from customers.
  nlohmann::json edit = A100Form("spec-a100", false);
  edit.erase("spec_id");
  edit.erase("price_per_hour");
  ASSERT_EQ(Put("/api/specs/spec-a100", edit).status, 200);
  EXPECT_EQ(As(user, http::verb::get, "/api/specs/spec-a100").status, 404);
}

TEST_F(SpecApiTest, BadFormsAreClearErrorsAndWriteNothing) {
  const uint64_t before = LogPosition();
  nlohmann::json number_price = A100Form("spec-bad");
  number_price["price_per_hour"] = 12.5;  // Money is text, never a float.
  EXPECT_EQ(Post("/api/specs", number_price).status, 400);
  nlohmann::json three_decimals = A100Form("spec-bad");
  three_decimals["price_per_hour"] = "12.505";
  EXPECT_EQ(Post("/api/specs", three_decimals).status, 400);
  nlohmann::json unknown = A100Form("spec-bad");
  unknown["colour"] = "red";
  EXPECT_EQ(Post("/api/specs", unknown).status, 400);
  nlohmann::json no_model = A100Form("spec-bad");
  no_model.erase("gpu_model");
  EXPECT_EQ(Post("/api/specs", no_model).status, 422);  // Well-formed; the decider refuses it.
  EXPECT_EQ(LogPosition(), before);
}

TEST_F(SpecApiTest, EnvironmentsOrderedFromASpec) {
  ASSERT_EQ(Post("/api/specs", A100Form("spec-order")).status, 201);
  nlohmann::json cpu = A100Form("spec-cpu");
  cpu["name"] = "CPU 4c";
  cpu["gpu_count"] = 0;
  cpu["cpu_cores"] = 4;
  cpu["memory_gb"] = 8;
  cpu["gpu_model"] = "";
  ASSERT_EQ(Post("/api/specs", cpu).status, 201);
  const std::string user = CustomerUser("Order Co", "order-user", nullptr);

  Reply gpu_env = As(user, http::verb::post, "/api/environments",
                     {{"name", "train"}, {"image", "pytorch"}, {"product_spec_id", "spec-order"}});
  ASSERT_EQ(gpu_env.status, 201) << gpu_env.raw;
  EXPECT_EQ(gpu_env.body["data"]["placement"]["gpu_indexes"].size(), 1u);
  Reply cpu_env = As(user, http::verb::post, "/api/environments",
                     {{"name", "etl"}, {"image", "python"}, {"product_spec_id", "spec-cpu"}});
  ASSERT_EQ(cpu_env.status, 201) << cpu_env.raw;
  EXPECT_TRUE(cpu_env.body["data"]["placement"]["gpu_indexes"].empty());
  Reply detail = Get("/api/environments/" + cpu_env.body["data"]["env_id"].get<std::string>(),
                     cpu_env.body["data"]["position"].get<uint64_t>());
  ASSERT_EQ(detail.status, 200) << detail.raw;
  EXPECT_EQ(detail.body["data"]["cpu_cores"], 4);

  // Resources come from the spec; an unlisted or unknown spec is not found.
  EXPECT_EQ(
      As(user, http::verb::post, "/api/environments",
         {{"name", "x"}, {"image", "pytorch"}, {"product_spec_id", "spec-order"}, {"cpu_cores", 2}})
          .status,
      400);
  EXPECT_EQ(As(user, http::verb::post, "/api/environments",
               {{"name", "x"}, {"image", "pytorch"}, {"product_spec_id", "spec-nope"}})
                .status,
            404);
}

}  // namespace
}  // namespace remotegpu::api
