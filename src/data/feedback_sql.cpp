#include "data/feedback_sql.h"

#include <spdlog/fmt/fmt.h>
#include <utf8.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>

namespace mimir::data::feedback_sql {

std::string in_dialect(const std::string& sql, Dialect dialect) {
    if (dialect == Dialect::sqlite) return sql;
    std::string out;
    int next = 1;
    for (char c : sql) {
        if (c == '?') {
            out += "$" + std::to_string(next++);
        } else {
            out += c;
        }
    }
    return out;
}

std::vector<std::string> migration(int to, Dialect dialect) {
    const bool sqlite = dialect == Dialect::sqlite;
    if (to == 1) {
        // Issues, checks and the conversation are JSON arrays in text columns; checks_passed is kept
        // beside the checks so review lists can filter on it.
        return {std::string("CREATE TABLE feedback (") +
                (sqlite ? "id INTEGER PRIMARY KEY AUTOINCREMENT" : "id BIGSERIAL PRIMARY KEY") +
                ", created_at TEXT NOT NULL, prompt TEXT NOT NULL, model_response TEXT NOT NULL,"
                " issues TEXT NOT NULL, notes TEXT NOT NULL, ideal_response TEXT NOT NULL,"
                " rating TEXT NOT NULL, conversation TEXT NOT NULL, tier TEXT NOT NULL,"
                " model_hash TEXT NOT NULL, checks TEXT NOT NULL, checks_passed INTEGER NOT NULL,"
                " state TEXT NOT NULL)"};
    }
    if (to == 2) {
        return {"ALTER TABLE feedback ADD COLUMN reviewed_at TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE feedback ADD COLUMN review_note TEXT NOT NULL DEFAULT ''",
                "CREATE INDEX feedback_state_id ON feedback (state, id)"};
    }
    return {};
}

namespace {

int to_int(const std::string& text, int fallback) {
    int value = fallback;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

Status migrate_inside(Connection& connection, Dialect dialect, const std::string& location) {
    const bool sqlite = dialect == Dialect::sqlite;
    const std::string tables =
        sqlite ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
               : "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()";
    const std::string name_column = sqlite ? "name" : "table_name";
    Result<std::string> has_version =
        connection.query_value(tables + " AND " + name_column + " = 'schema_version'");
    if (!has_version) return has_version.error();
    if (to_int(*has_version, 0) == 0) {
        Result<std::string> others = connection.query_value(tables);
        if (!others) return others.error();
        if (to_int(*others, 0) != 0)
            return Error{"store_unavailable", location +
                                                  ": a database that is not a Mimir feedback store (it has "
                                                  "tables but no schema_version); give another --data"};
        if (Status made = connection.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)"); !made)
            return made;
        if (Status made = connection.exec("INSERT INTO schema_version (version) VALUES (0)"); !made)
            return made;
    }
    Result<std::string> version_text = connection.query_value("SELECT version FROM schema_version");
    if (!version_text) return version_text.error();
    const int version = to_int(*version_text, -1);
    if (version < 0)
        return Error{"store_unavailable", location + ": the schema_version table holds no version"};
    if (version > kSchemaVersion)
        return Error{"schema_too_new", fmt::format("{}: written by a newer Mimir (schema version {}, this "
                                                   "one knows up to {}); upgrade Mimir",
                                                   location, version, kSchemaVersion)};
    for (int to = version + 1; to <= kSchemaVersion; ++to) {
        for (const std::string& sql : migration(to, dialect)) {
            if (Status done = connection.exec(sql); !done) return done;
        }
    }
    if (version == kSchemaVersion) return ok_status();
    return connection.exec("UPDATE schema_version SET version = " + std::to_string(kSchemaVersion));
}

}  // namespace

Status migrate(Connection& connection, Dialect dialect, const std::string& location) {
    if (Status begun = connection.begin_exclusive(); !begun) return begun;
    Status migrated = migrate_inside(connection, dialect, location);
    if (!migrated) {
        (void)connection.exec("ROLLBACK");
        return migrated;
    }
    return connection.exec("COMMIT");
}

Status validate(const FeedbackSubmission& submission) {
    const std::pair<const char*, const std::string*> texts[] = {
        {"prompt", &submission.prompt},
        {"model_response", &submission.model_response},
        {"notes", &submission.notes},
        {"ideal_response", &submission.ideal_response},
        {"conversation", &submission.conversation_json},
        {"tier", &submission.tier},
        {"model_hash", &submission.model_hash}};
    for (const auto& [field, text] : texts) {
        // PostgreSQL's text cannot hold NUL, and both stores must keep the same rows.
        if (!utf8::is_valid(text->begin(), text->end()) || text->find('\0') != std::string::npos)
            return Error{"invalid_feedback", std::string(field) + ": not valid UTF-8 text (or holds NUL)"};
    }
    if (submission.prompt.empty()) return Error{"invalid_feedback", "prompt: required and not empty"};
    if (submission.model_response.empty())
        return Error{"invalid_feedback", "model_response: required and not empty"};
    const std::vector<std::string>& known = issue_categories();
    for (const std::string& issue : submission.issues) {
        if (std::find(known.begin(), known.end(), issue) == known.end())
            return Error{"invalid_feedback", "issues: unknown category \"" + issue + "\""};
    }
    return ok_status();
}

namespace {

std::string checks_to_json(const std::vector<StoredCheck>& checks) {
    nlohmann::json array = nlohmann::json::array();
    for (const StoredCheck& check : checks)
        array.push_back({{"name", check.name}, {"passed", check.passed}, {"reason", check.reason}});
    return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int64_t all_passed(const std::vector<StoredCheck>& checks) {
    return std::all_of(checks.begin(), checks.end(), [](const StoredCheck& c) { return c.passed; }) ? 1 : 0;
}

Result<nlohmann::json> parse_array(const std::string& text, const char* column, const std::string& id) {
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_array())
        return Error{"store_unavailable", "feedback " + id + ": column " + column + " is not a JSON array"};
    return parsed;
}

}  // namespace

const char* const kRecordColumns =
    "id, prompt, model_response, issues, notes, ideal_response, rating, conversation, tier, model_hash, "
    "checks, state, created_at, reviewed_at, review_note";

Result<FeedbackRecord> record_from_columns(const std::array<std::string, kRecordColumnCount>& columns) {
    FeedbackRecord record;
    const std::string& id = columns[0];
    std::from_chars(id.data(), id.data() + id.size(), record.id);
    FeedbackSubmission& s = record.submission;
    s.prompt = columns[1];
    s.model_response = columns[2];
    Result<nlohmann::json> issues = parse_array(columns[3], "issues", id);
    if (!issues) return issues.error();
    for (const nlohmann::json& issue : *issues) {
        if (issue.is_string()) s.issues.push_back(issue.get<std::string>());
    }
    s.notes = columns[4];
    s.ideal_response = columns[5];
    s.rating = rating_from_string(columns[6]).value_or(Rating::none);
    s.conversation_json = columns[7];
    s.tier = columns[8];
    s.model_hash = columns[9];
    Result<nlohmann::json> checks = parse_array(columns[10], "checks", id);
    if (!checks) return checks.error();
    for (const nlohmann::json& check : *checks) {
        s.checks.push_back({.name = check.value("name", ""),
                            .passed = check.value("passed", false),
                            .reason = check.value("reason", "")});
    }
    record.state = review_state_from_string(columns[11]).value_or(ReviewState::pending);
    record.created_at = columns[12];
    record.reviewed_at = columns[13];
    record.review_note = columns[14];
    return record;
}

Statement insert_statement(const FeedbackSubmission& s, Dialect dialect) {
    nlohmann::json issues = s.issues;
    return Statement{
        .sql = in_dialect("INSERT INTO feedback (created_at, prompt, model_response, issues, notes, "
                          "ideal_response, rating, conversation, tier, model_hash, checks, checks_passed, "
                          "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                          dialect),
        .parameters = {utc_now(), s.prompt, s.model_response, issues.dump(), s.notes, s.ideal_response,
                       std::string(to_string(s.rating)),
                       s.conversation_json.empty() ? std::string("[]") : s.conversation_json, s.tier,
                       s.model_hash, checks_to_json(s.checks), all_passed(s.checks),
                       std::string(to_string(ReviewState::pending))}};
}

Statement select_one_statement(int64_t id, Dialect dialect) {
    return Statement{
        .sql = in_dialect(std::string("SELECT ") + kRecordColumns + " FROM feedback WHERE id = ?", dialect),
        .parameters = {id}};
}

Statement list_statement(const FeedbackFilter& filter, Dialect dialect) {
    Statement statement{.sql = std::string("SELECT ") + kRecordColumns + " FROM feedback WHERE 1 = 1"};
    auto where = [&statement](const char* condition, Parameter value) {
        statement.sql += condition;
        statement.parameters.push_back(std::move(value));
    };
    if (filter.state) where(" AND state = ?", std::string(to_string(*filter.state)));
    if (filter.rating) where(" AND rating = ?", std::string(to_string(*filter.rating)));
    if (filter.checks_passed) where(" AND checks_passed = ?", int64_t{*filter.checks_passed ? 1 : 0});
    if (filter.before_id > 0) where(" AND id < ?", filter.before_id);
    if (filter.issue) {
        where(dialect == Dialect::sqlite
                  ? " AND EXISTS (SELECT 1 FROM json_each(feedback.issues) WHERE json_each.value = ?)"
                  : " AND issues::jsonb @> jsonb_build_array(?::text)",
              *filter.issue);
    }
    where(" ORDER BY id DESC LIMIT ?", int64_t{std::clamp(filter.limit, 1, FeedbackFilter::kMaxListLimit)});
    statement.sql = in_dialect(statement.sql, dialect);
    return statement;
}

Statement review_statement(int64_t id, const ReviewDecision& decision, Dialect dialect) {
    const bool pending = decision.state == ReviewState::pending;
    Statement statement{.sql = "UPDATE feedback SET state = ?, reviewed_at = ?, review_note = ?",
                        .parameters = {std::string(to_string(decision.state)),
                                       pending ? std::string() : utc_now(), decision.note}};
    if (decision.edited_ideal_response) {
        statement.sql += ", ideal_response = ?, checks = ?, checks_passed = ?";
        statement.parameters.push_back(*decision.edited_ideal_response);
        statement.parameters.push_back(checks_to_json(decision.checks));
        statement.parameters.push_back(all_passed(decision.checks));
    }
    statement.sql += " WHERE id = ? RETURNING id";
    statement.parameters.push_back(id);
    statement.sql = in_dialect(statement.sql, dialect);
    return statement;
}

std::string utc_now() {
    const auto now = std::chrono::system_clock::now();
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                       utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

}  // namespace mimir::data::feedback_sql
