// One embedded PostgreSQL for a whole test suite: Start in SetUpTestSuite,
// Stop in TearDownTestSuite, `->` for the server in between.
#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "projections/embedded_postgres.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::testing {

class SuitePostgres {
 public:
  void Start() {
    dir_ = std::make_unique<TempDir>();
    auto pg = projections::EmbeddedPostgres::Start({.data_dir = dir_->Sub("pg")});
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(*pg);
  }
  void Stop() {
    pg_.reset();
    dir_.reset();
  }
  projections::EmbeddedPostgres* operator->() const { return pg_.get(); }

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<projections::EmbeddedPostgres> pg_;
};

}  // namespace remotegpu::testing
