// The two feedback store back ends as the typed tests see them: each makes fresh empty locations, runs raw
// SQL there (to plant an older or newer schema, or a database that is not a store), and knows its dialect's
// frozen version-1 schema. PostgreSQL comes from a real server started once per test process
// (tests/support/postgres_server.sh); where it cannot start, its tests skip with the reason.
#pragma once

#include <string>

namespace mimir::test {

struct SqliteBackend {
    static constexpr const char* kName = "sqlite";
    // Empty when usable, else why the tests skip.
    static std::string unavailable_reason() { return ""; }
    static std::string fresh_location();
    static void run_sql(const std::string& location, const std::string& sql);
    // What a Mimir of schema version 1 created.
    static const char* schema_v1();
    // A location holding something that is not a feedback store.
    static std::string foreign_location();
};

struct PostgresBackend {
    static constexpr const char* kName = "postgresql";
    static std::string unavailable_reason();
    // A new empty database on the shared server.
    static std::string fresh_location();
    static void run_sql(const std::string& location, const std::string& sql);
    static const char* schema_v1();
    static std::string foreign_location();
    // The URL of a new database with a password in it (the test server ignores it: trust authentication).
    static std::string location_with_password(const std::string& password);
    // Ends every other session on `location`'s database, as a server restart would, and waits until they
    // are gone.
    static void end_other_sessions(const std::string& location);
};

}  // namespace mimir::test
