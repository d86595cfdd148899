// The SQLite feedback store: one connection behind a mutex (SQLite serialises writers anyway), WAL so
// readers do not block the writer, synchronous=FULL so a row is on disk before add() returns its id, and a
// busy timeout for other processes (a `mimir dataset export`) sharing the file.
#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <filesystem>
#include <mutex>

#include "data/feedback_sql.h"
#include "data/feedback_store_backends.h"

namespace mimir::data {

namespace {

using feedback_sql::Dialect;

constexpr int kBusyTimeoutMs = 5000;

Error sqlite_error(const std::string& path, const SQLite::Exception& e, const char* doing) {
    const int code = e.getErrorCode();
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
        return Error{"store_unavailable", path + ": not a SQLite database, or a damaged one (" + e.what() +
                                              "); give another --data"};
    if (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY)
        return Error{"write_failed", path + ": " + doing + " failed (" + e.what() + ")"};
    return Error{"store_unavailable", path + ": " + doing + " failed (" + e.what() + ")"};
}

void bind(SQLite::Statement& statement, const std::vector<feedback_sql::Parameter>& parameters) {
    for (size_t i = 0; i < parameters.size(); ++i) {
        const int index = static_cast<int>(i) + 1;
        if (const auto* number = std::get_if<int64_t>(&parameters[i])) {
            statement.bind(index, *number);
        } else {
            statement.bind(index, std::get<std::string>(parameters[i]));
        }
    }
}

// The shared migration logic's view of a connection.
class SqliteConnection : public feedback_sql::Connection {
  public:
    explicit SqliteConnection(SQLite::Database& db) : db_(db) {}
    Status exec(const std::string& sql) override {
        return run([&] { db_.exec(sql); });
    }
    Result<std::string> query_value(const std::string& sql) override {
        std::string value;
        Status done = run([&] {
            SQLite::Statement statement(db_, sql);
            if (statement.executeStep()) value = statement.getColumn(0).getString();
        });
        if (!done) return done.error();
        return value;
    }
    Status begin_exclusive() override { return exec("BEGIN IMMEDIATE"); }

  private:
    template <typename Body>
    Status run(Body body) {
        try {
            body();
            return ok_status();
        } catch (const SQLite::Exception& e) {
            return sqlite_error(db_.getFilename(), e, "migrating the schema");
        }
    }
    SQLite::Database& db_;
};

class SqliteFeedbackStore : public FeedbackStore {
  public:
    SqliteFeedbackStore(std::string path, SQLite::Database db) : path_(std::move(path)), db_(std::move(db)) {}

    Result<int64_t> add(const FeedbackSubmission& submission) override {
        if (Status valid = feedback_sql::validate(submission); !valid) return valid.error();
        int64_t id = 0;
        Status done = run("adding feedback", feedback_sql::insert_statement(submission, Dialect::sqlite),
                          [&id](SQLite::Statement& row) { id = row.getColumn(0).getInt64(); });
        if (!done) return done.error();
        return id;
    }

    Result<FeedbackRecord> get(int64_t id) override {
        Result<std::vector<FeedbackRecord>> found =
            records("reading feedback", feedback_sql::select_one_statement(id, Dialect::sqlite));
        if (!found) return found.error();
        if (found->empty()) return Error{"not_found", "no feedback with id " + std::to_string(id)};
        return std::move(found->front());
    }

    Result<std::vector<FeedbackRecord>> list(const FeedbackFilter& filter) override {
        return records("listing feedback", feedback_sql::list_statement(filter, Dialect::sqlite));
    }

    Result<FeedbackRecord> review(int64_t id, const ReviewDecision& decision) override {
        bool found = false;
        Status done = run("reviewing feedback", feedback_sql::review_statement(id, decision, Dialect::sqlite),
                          [&found](SQLite::Statement&) { found = true; });
        if (!done) return done.error();
        if (!found) return Error{"not_found", "no feedback with id " + std::to_string(id)};
        return get(id);
    }

    std::string describe() const override { return "sqlite:" + path_; }

  private:
    // Runs one statement to completion (in autocommit mode that is its commit), calling `on_row` per row.
    template <typename OnRow>
    Status run(const char* doing, const feedback_sql::Statement& sql, OnRow on_row) {
        std::lock_guard lock(mutex_);
        try {
            SQLite::Statement statement(db_, sql.sql);
            bind(statement, sql.parameters);
            while (statement.executeStep()) on_row(statement);
            return ok_status();
        } catch (const SQLite::Exception& e) {
            Error error = sqlite_error(path_, e, doing);
            spdlog::error("event=feedback_store_error store=sqlite code={} reason=\"{}\"", error.code,
                          error.message);
            return error;
        }
    }

    Result<std::vector<FeedbackRecord>> records(const char* doing, const feedback_sql::Statement& sql) {
        std::vector<FeedbackRecord> out;
        std::optional<Error> bad_row;
        Status done = run(doing, sql, [&](SQLite::Statement& row) {
            std::array<std::string, feedback_sql::kRecordColumnCount> columns;
            for (int i = 0; i < feedback_sql::kRecordColumnCount; ++i)
                columns[i] = row.getColumn(i).getString();
            Result<FeedbackRecord> record = feedback_sql::record_from_columns(columns);
            if (record) {
                out.push_back(std::move(*record));
            } else {
                bad_row = record.error();
            }
        });
        if (!done) return done.error();
        if (bad_row) return *bad_row;
        return out;
    }

    std::string path_;
    std::mutex mutex_;
    SQLite::Database db_;
};

Result<SQLite::Database> open_database(const std::string& path) {
    std::error_code ignored;
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    if (!folder.empty()) std::filesystem::create_directories(folder, ignored);
    try {
        SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, kBusyTimeoutMs);
        // Reading the journal mode is the first read of the file: a file that is not a database fails here.
        const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
        if (mode != "wal")
            return Error{"store_unavailable",
                         path + ": cannot use a write-ahead log (journal mode " + mode + ")"};
        db.exec("PRAGMA synchronous = FULL");
        const std::string check = db.execAndGet("PRAGMA quick_check").getString();
        if (check != "ok")
            return Error{"store_unavailable", path + ": the database is damaged (" + check + ")"};
        return db;
    } catch (const SQLite::Exception& e) {
        return sqlite_error(path, e, "opening the feedback store");
    }
}

}  // namespace

Result<std::unique_ptr<FeedbackStore>> open_sqlite_feedback_store(const std::string& path) {
    Result<SQLite::Database> db = open_database(path);
    if (!db) return db.error();
    SqliteConnection connection(*db);
    if (Status migrated = feedback_sql::migrate(connection, Dialect::sqlite, path); !migrated)
        return migrated.error();
    return std::unique_ptr<FeedbackStore>(std::make_unique<SqliteFeedbackStore>(path, std::move(*db)));
}

}  // namespace mimir::data
