# Every third-party library comes from Debian's packages (./scripts/setup).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(RocksDB CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
# libpq itself, for COPY straight from our own buffers (projections/metrics_store.cc).
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
# The server's allocator (RocksDB's recommendation): glibc's malloc spends a
# third of the Kafka relay's time managing the relay's short-lived buffers.
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)
find_package(nlohmann_json CONFIG REQUIRED)
