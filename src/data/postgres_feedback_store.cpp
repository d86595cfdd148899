// The PostgreSQL feedback store: a small pool of libpq connections (one per call in flight, at most
// kMaxConnections, idle ones kept for reuse), so several threads and several `mimir serve` replicas write
// at once; the server's own durable commit stands behind each acknowledged id. A connection that failed is
// dropped, never reused.
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "data/feedback_sql.h"
#include "data/feedback_store_backends.h"

namespace mimir::data {

std::string url_without_password(const std::string& url) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return url;
    const size_t authority_start = scheme_end + 3;
    size_t authority_end = url.find_first_of("/?", authority_start);
    if (authority_end == std::string::npos) authority_end = url.size();
    std::string authority = url.substr(authority_start, authority_end - authority_start);
    if (const size_t at = authority.rfind('@'); at != std::string::npos) {
        std::string user = authority.substr(0, at);
        user = user.substr(0, user.find(':'));
        authority = user + "@" + authority.substr(at + 1);
    }
    std::string rest = url.substr(authority_end);
    if (const size_t query = rest.find('?'); query != std::string::npos) {
        std::string kept;
        size_t start = query + 1;
        while (start <= rest.size()) {
            size_t end = rest.find('&', start);
            if (end == std::string::npos) end = rest.size();
            const std::string parameter = rest.substr(start, end - start);
            if (!parameter.empty() && !parameter.starts_with("password="))
                kept += (kept.empty() ? "" : "&") + parameter;
            start = end + 1;
        }
        rest = rest.substr(0, query) + (kept.empty() ? "" : "?" + kept);
    }
    return url.substr(0, authority_start) + authority + rest;
}

namespace {

using feedback_sql::Dialect;

struct ConnectionCloser {
    void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultClearer {
    void operator()(PGresult* result) const { PQclear(result); }
};
using PgConnection = std::unique_ptr<PGconn, ConnectionCloser>;
using PgResult = std::unique_ptr<PGresult, ResultClearer>;

std::string first_line(const char* message) {
    std::string text = message ? message : "";
    text = text.substr(0, text.find('\n'));
    return text;
}

Result<PgConnection> connect(const std::string& url, const std::string& shown) {
    PgConnection connection(PQconnectdb(url.c_str()));
    if (!connection) return Error{"store_unavailable", shown + ": cannot allocate a connection"};
    if (PQstatus(connection.get()) != CONNECTION_OK)
        return Error{"store_unavailable",
                     shown + ": cannot connect (" + first_line(PQerrorMessage(connection.get())) + ")"};
    return connection;
}

// Runs `sql` with text parameters; rows come back as text.
Result<PgResult> execute(PGconn* connection, const feedback_sql::Statement& statement,
                         const std::string& shown) {
    std::vector<std::string> texts;
    for (const feedback_sql::Parameter& parameter : statement.parameters) {
        if (const auto* number = std::get_if<int64_t>(&parameter)) {
            texts.push_back(std::to_string(*number));
        } else {
            texts.push_back(std::get<std::string>(parameter));
        }
    }
    std::vector<const char*> values;
    for (const std::string& text : texts) values.push_back(text.c_str());
    PgResult result(PQexecParams(connection, statement.sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    const std::string reason =
        result ? first_line(PQresultErrorMessage(result.get())) : first_line(PQerrorMessage(connection));
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    // Class 53: insufficient resources (disk full, out of memory).
    const bool full = state && std::string_view(state).starts_with("53");
    return Error{full ? "write_failed" : "store_unavailable", shown + ": " + reason};
}

class PgMigrationConnection : public feedback_sql::Connection {
  public:
    PgMigrationConnection(PGconn* connection, std::string shown)
        : connection_(connection), shown_(std::move(shown)) {}
    Status exec(const std::string& sql) override {
        Result<PgResult> result = execute(connection_, {.sql = sql}, shown_);
        if (!result) return result.error();
        return ok_status();
    }
    Result<std::string> query_value(const std::string& sql) override {
        Result<PgResult> result = execute(connection_, {.sql = sql}, shown_);
        if (!result) return result.error();
        if (PQntuples(result->get()) == 0) return std::string();
        return std::string(PQgetvalue(result->get(), 0, 0));
    }
    Status begin_exclusive() override {
        // Replicas starting together migrate one after another; the key is arbitrary but fixed.
        if (Status begun = exec("BEGIN"); !begun) return begun;
        return exec("SELECT pg_advisory_xact_lock(7236982136545001)");
    }

  private:
    PGconn* connection_;
    std::string shown_;
};

class PostgresFeedbackStore : public FeedbackStore {
  public:
    PostgresFeedbackStore(std::string url, PgConnection first)
        : url_(std::move(url)), shown_(url_without_password(url_)) {
        idle_.push_back(std::move(first));
    }

    Result<int64_t> add(const FeedbackSubmission& submission) override {
        if (Status valid = feedback_sql::validate(submission); !valid) return valid.error();
        Result<PgResult> result = run(feedback_sql::insert_statement(submission, Dialect::postgresql));
        if (!result) return result.error();
        return std::stoll(PQgetvalue(result->get(), 0, 0));
    }

    Result<FeedbackRecord> get(int64_t id) override {
        Result<std::vector<FeedbackRecord>> found =
            records(feedback_sql::select_one_statement(id, Dialect::postgresql));
        if (!found) return found.error();
        if (found->empty()) return Error{"not_found", "no feedback with id " + std::to_string(id)};
        return std::move(found->front());
    }

    Result<std::vector<FeedbackRecord>> list(const FeedbackFilter& filter) override {
        return records(feedback_sql::list_statement(filter, Dialect::postgresql));
    }

    Result<FeedbackRecord> review(int64_t id, const ReviewDecision& decision) override {
        Result<PgResult> result = run(feedback_sql::review_statement(id, decision, Dialect::postgresql));
        if (!result) return result.error();
        if (PQntuples(result->get()) == 0)
            return Error{"not_found", "no feedback with id " + std::to_string(id)};
        return get(id);
    }

    std::string describe() const override { return shown_; }

  private:
    static constexpr int kMaxConnections = 8;

    enum class Retry { never, on_broken_connection };

    // A read may go again on a fresh connection when the one it used had been closed by the server while
    // it sat idle (a restart, an idle timeout); a write may not, since the server could have committed it
    // before the connection broke, and a second try would store the row twice.
    Result<PgResult> run(const feedback_sql::Statement& statement, Retry retry = Retry::never) {
        for (int attempt = 0;; ++attempt) {
            Result<PgConnection> connection = acquire();
            if (!connection) return log_error(connection.error());
            Result<PgResult> result = execute(connection->get(), statement, shown_);
            const bool broken = PQstatus(connection->get()) != CONNECTION_OK;
            release(std::move(*connection));
            if (result) return result;
            if (!broken || retry == Retry::never || attempt > 0) return log_error(result.error());
        }
    }

    Result<std::vector<FeedbackRecord>> records(const feedback_sql::Statement& statement) {
        Result<PgResult> result = run(statement, Retry::on_broken_connection);
        if (!result) return result.error();
        std::vector<FeedbackRecord> out;
        for (int row = 0; row < PQntuples(result->get()); ++row) {
            std::array<std::string, feedback_sql::kRecordColumnCount> columns;
            for (int i = 0; i < feedback_sql::kRecordColumnCount; ++i)
                columns[i] = PQgetvalue(result->get(), row, i);
            Result<FeedbackRecord> record = feedback_sql::record_from_columns(columns);
            if (!record) return record.error();
            out.push_back(std::move(*record));
        }
        return out;
    }

    // An idle connection, else a new one while fewer than kMaxConnections are open, else waits for one:
    // a burst of requests must not use up the server's connections, which replicas share.
    Result<PgConnection> acquire() {
        {
            std::unique_lock lock(mutex_);
            returned_.wait(lock, [this] { return !idle_.empty() || open_ < kMaxConnections; });
            if (!idle_.empty()) {
                PgConnection connection = std::move(idle_.back());
                idle_.pop_back();
                return connection;
            }
            ++open_;
        }
        Result<PgConnection> connection = connect(url_, shown_);
        if (!connection) close_one();
        return connection;
    }

    void release(PgConnection connection) {
        if (PQstatus(connection.get()) != CONNECTION_OK ||
            PQtransactionStatus(connection.get()) != PQTRANS_IDLE)
            return close_one();  // `connection` closes as it goes out of scope
        {
            std::lock_guard lock(mutex_);
            idle_.push_back(std::move(connection));
        }
        returned_.notify_one();
    }

    void close_one() {
        {
            std::lock_guard lock(mutex_);
            --open_;
        }
        returned_.notify_one();
    }

    static Error log_error(Error error) {
        spdlog::error("event=feedback_store_error store=postgresql code={} reason=\"{}\"", error.code,
                      error.message);
        return error;
    }

    std::string url_;
    std::string shown_;
    std::mutex mutex_;
    std::condition_variable returned_;
    std::vector<PgConnection> idle_;  // guarded by mutex_
    int open_ = 1;                    // connections open, idle or in use; guarded by mutex_
};

}  // namespace

Result<std::unique_ptr<FeedbackStore>> open_postgres_feedback_store(const std::string& url) {
    const std::string shown = url_without_password(url);
    Result<PgConnection> connection = connect(url, shown);
    if (!connection) return connection.error();
    PgMigrationConnection migration(connection->get(), shown);
    if (Status migrated = feedback_sql::migrate(migration, Dialect::postgresql, shown); !migrated)
        return migrated.error();
    return std::unique_ptr<FeedbackStore>(
        std::make_unique<PostgresFeedbackStore>(url, std::move(*connection)));
}

}  // namespace mimir::data
