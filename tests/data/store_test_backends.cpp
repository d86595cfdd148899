#include "store_test_backends.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "support/test_models.h"

namespace mimir::test {

namespace {

std::atomic<int> g_next_location{0};

// Version 1 as Mimir 0.1 wrote it; kept frozen here, whatever the code's migrations become.
constexpr const char* kFeedbackV1Columns =
    "created_at TEXT NOT NULL, prompt TEXT NOT NULL, model_response TEXT NOT NULL, issues TEXT NOT NULL, "
    "notes TEXT NOT NULL, ideal_response TEXT NOT NULL, rating TEXT NOT NULL, conversation TEXT NOT NULL, "
    "tier TEXT NOT NULL, model_hash TEXT NOT NULL, checks TEXT NOT NULL, checks_passed INTEGER NOT NULL, "
    "state TEXT NOT NULL)";
constexpr const char* kV1Row =
    "INSERT INTO feedback (created_at, prompt, model_response, issues, notes, ideal_response, rating, "
    "conversation, tier, model_hash, checks, checks_passed, state) VALUES ('2026-01-01T00:00:00.000Z', "
    "'What is 2 + 2?', 'It is 4!!! :D', '[\"Tone\"]', 'written before reviews existed', "
    "'What do you get when you count on two from 2?', 'down', '[]', 'base', 'abc123', "
    "'[{\"name\":\"tone.no_emoticons\",\"passed\":true,\"reason\":\"\"}]', 1, 'pending');";

std::string v1_schema(const char* id_column) {
    return std::string(
               "CREATE TABLE schema_version (version INTEGER NOT NULL);"
               "INSERT INTO schema_version (version) VALUES (1);"
               "CREATE TABLE feedback (") +
           id_column + ", " + kFeedbackV1Columns + ";" + kV1Row;
}

// The PostgreSQL server this test process shares: started on first use (a process that runs only SQLite
// tests never starts one) and stopped when the tests end.
class PostgresServer : public testing::Environment {
  public:
    static PostgresServer& instance() {
        static std::once_flag started;
        std::call_once(started, [] { registered->start(); });
        return *registered;
    }
    static PostgresServer* const registered;

    void TearDown() override {
        if (dir_.empty()) return;
        const std::string command = script() + " stop " + dir_ + " 2>&1";
        if (std::system(command.c_str()) != 0) std::fprintf(stderr, "postgres_server.sh stop failed\n");
        dir_.clear();
    }

    const std::string& unavailable_reason() const { return unavailable_; }
    std::string url_for(const std::string& database) const {
        return "postgresql://mimir@/" + database + query_;
    }
    const std::string& admin_url() const { return admin_url_; }

  private:
    static std::string script() {
        return std::string(MIMIR_TEST_SOURCE_DIR) + "/tests/support/postgres_server.sh";
    }

    void start() {
        char dir_template[] = "/tmp/mimir-pg.XXXXXX";  // short: a unix socket path is at most 107 bytes
        if (!mkdtemp(dir_template)) {
            unavailable_ = "cannot make a temporary folder";
            return;
        }
        dir_ = dir_template;
        const std::string command = script() + " start " + dir_ + " 2>&1";
        std::string output;
        FILE* pipe = popen(command.c_str(), "r");
        char buffer[512];
        while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
        const int status = pipe ? pclose(pipe) : -1;
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (code != 0) {
            unavailable_ = "no PostgreSQL server could be started (" + output + ")";
            std::fprintf(stderr, "feedback store tests: %s\n", unavailable_.c_str());
            std::filesystem::remove_all(dir_);
            dir_.clear();
            return;
        }
        while (!output.empty() && output.back() == '\n') output.pop_back();
        admin_url_ = output.substr(output.rfind('\n') + 1);
        query_ = admin_url_.substr(admin_url_.find('?'));
    }

    std::string dir_;
    std::string unavailable_;
    std::string admin_url_;
    std::string query_;
};

// gtest owns registered environments and deletes them at exit.
PostgresServer* const PostgresServer::registered =
    static_cast<PostgresServer*>(testing::AddGlobalTestEnvironment(new PostgresServer));

// Runs `sql` (one or more statements) and returns the first column of the first row, "" when none.
std::string pg_exec(const std::string& url, const std::string& sql) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> connection(PQconnectdb(url.c_str()), PQfinish);
    EXPECT_EQ(PQstatus(connection.get()), CONNECTION_OK) << url << ": " << PQerrorMessage(connection.get());
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(connection.get(), sql.c_str()), PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(result.get());
    return status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
}

}  // namespace

// scratch_dir() empties the folder each call: one call per test.
static std::string test_dir() {
    static std::mutex mutex;
    static std::string test, dir;
    std::lock_guard lock(mutex);
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    const std::string current = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
    if (current != test || dir.empty()) {
        test = current;
        dir = scratch_dir();
    }
    return dir;
}

std::string SqliteBackend::fresh_location() {
    return test_dir() + "/store" + std::to_string(g_next_location++) + "/feedback.db";
}

void SqliteBackend::run_sql(const std::string& location, const std::string& sql) {
    std::filesystem::create_directories(std::filesystem::path(location).parent_path());
    SQLite::Database db(location, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(sql);
}

const char* SqliteBackend::schema_v1() {
    static const std::string sql = v1_schema("id INTEGER PRIMARY KEY AUTOINCREMENT");
    return sql.c_str();
}

std::string SqliteBackend::foreign_location() {
    const std::string location = fresh_location();
    std::filesystem::create_directories(std::filesystem::path(location).parent_path());
    std::ofstream(location) << std::string(4096, 'x') << "\nnot a database\n";
    return location;
}

std::string PostgresBackend::unavailable_reason() {
    return PostgresServer::instance().unavailable_reason();
}

std::string PostgresBackend::fresh_location() {
    const std::string database = "store_" + std::to_string(g_next_location++);
    pg_exec(PostgresServer::instance().admin_url(), "CREATE DATABASE " + database);
    return PostgresServer::instance().url_for(database);
}

void PostgresBackend::run_sql(const std::string& location, const std::string& sql) {
    pg_exec(location, sql);
}

const char* PostgresBackend::schema_v1() {
    static const std::string sql = v1_schema("id BIGSERIAL PRIMARY KEY");
    return sql.c_str();
}

std::string PostgresBackend::foreign_location() {
    const std::string location = fresh_location();
    pg_exec(location, "CREATE TABLE students (name TEXT)");
    return location;
}

void PostgresBackend::end_other_sessions(const std::string& location) {
    const std::string others =
        " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    pg_exec(location, "SELECT count(pg_terminate_backend(pid))" + others);
    for (int poll = 0; poll < 500 && pg_exec(location, "SELECT count(*)" + others) != "0"; ++poll)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(pg_exec(location, "SELECT count(*)" + others), "0") << "sessions still open";
}

std::string PostgresBackend::location_with_password(const std::string& password) {
    const std::string url = fresh_location();
    const std::string user = "postgresql://mimir";
    return user + ":" + password + url.substr(user.size());
}

}  // namespace mimir::test
