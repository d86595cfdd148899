// Internal to the data module: what the SQLite and PostgreSQL feedback stores share, so both hold the same
// schema, migrate the same way and read rows back alike. Statements are written with `?` placeholders;
// in_dialect() turns them into PostgreSQL's $1, $2, ...
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "data/feedback_store.h"

namespace mimir::data::feedback_sql {

enum class Dialect { sqlite, postgresql };

// The version a store is migrated to when it opens. Version 1 held submissions; version 2 added the review
// columns and the index review lists use.
constexpr int kSchemaVersion = 2;

std::string in_dialect(const std::string& sql, Dialect dialect);

// The statements that take a store from version `to - 1` to `to` (1 <= to <= kSchemaVersion).
std::vector<std::string> migration(int to, Dialect dialect);

using Parameter = std::variant<int64_t, std::string>;

// What one back end must run for the shared logic below.
class Connection {
  public:
    virtual ~Connection() = default;
    virtual Status exec(const std::string& sql) = 0;
    // The first column of the first row as text ("" when there is no row).
    virtual Result<std::string> query_value(const std::string& sql) = 0;
    // The locking transaction a migration runs in (one migrating process at a time).
    virtual Status begin_exclusive() = 0;
};

// Creates or migrates the schema in one transaction. `location` names the store in errors.
// Errors: "schema_too_new", "store_unavailable" (a database that holds other tables but no schema_version).
Status migrate(Connection& connection, Dialect dialect, const std::string& location);

// Rejects what no client may store: "invalid_feedback" naming the field.
Status validate(const FeedbackSubmission& submission);

// The columns of a record, in the order of kRecordColumns, as text.
constexpr int kRecordColumnCount = 15;
extern const char* const kRecordColumns;  // "id, prompt, model_response, ..."
Result<FeedbackRecord> record_from_columns(const std::array<std::string, kRecordColumnCount>& columns);

struct Statement {
    std::string sql;  // in the dialect asked for
    std::vector<Parameter> parameters;
};

// INSERT of a new pending row, created now; ends with RETURNING id.
Statement insert_statement(const FeedbackSubmission& submission, Dialect dialect);
Statement select_one_statement(int64_t id, Dialect dialect);
Statement list_statement(const FeedbackFilter& filter, Dialect dialect);
// UPDATE ... RETURNING id: no row back means the id is unknown.
Statement review_statement(int64_t id, const ReviewDecision& decision, Dialect dialect);

// Now, UTC, ISO 8601 with milliseconds: "2026-12-01T19:04:05.123Z".
std::string utc_now();

}  // namespace mimir::data::feedback_sql
