# Every dependency comes from a Debian package; nothing downloads at configure or build time.
find_package(OpenSSL 3.0 REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)  # the CA's records (DIR/ca.db)

find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(mqttpki_asio INTERFACE)
add_library(mqttpki::asio ALIAS mqttpki_asio)
target_include_directories(mqttpki_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(mqttpki_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(mqttpki_asio INTERFACE Threads::Threads)

if(MQTTPKI_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
  include(Catch)
endif()
