// The learning loop's endpoints: feedback from the page (categories, check, submit) and the review of it
// behind the admin key (list, get, review). Request bodies are checked field by field before anything is
// stored, so a bad request stores nothing; a submission is answered 201 only once its row is committed.
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <utf8.h>

#include <charconv>

#include "serve/chat_request.h"
#include "serve/http_common.h"
#include "serve/serving_state.h"

namespace mimir::serve {

namespace {

using nlohmann::json;

constexpr size_t kMaxTextChars = 20000;   // prompt, model_response, ideal_response, a conversation turn
constexpr size_t kMaxNotesChars = 10000;  // notes, a review note
constexpr size_t kMaxTurns = 100;
constexpr int kDefaultListLimit = 50;
constexpr int kMaxListLimit = 200;

Error invalid(const std::string& field, const std::string& why) {
    return Error{"invalid_feedback", field + ": " + why};
}

bool allowed(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    RateLimiter& limiter = state.feedback().rate_limiter();
    if (limiter.allow(client_address(req, state.options().trust_forwarded_for))) return true;
    res.set_header("Retry-After", std::to_string(limiter.retry_after_seconds()));
    send_error(res, state, Error{"rate_limited", "too much feedback from this client; slow down"});
    return false;
}

// The store, or null after answering 503 (the server runs without one).
data::FeedbackStore* store_or_503(httplib::Response& res, ServingState& state) {
    data::FeedbackStore* store = state.feedback().store();
    if (!store)
        send_error(res, state,
                   Error{"store_unavailable", "this server runs without a feedback store (--data)"});
    return store;
}

// not_found and invalid_feedback are the client's; anything else is the store's trouble, logged by it.
void send_store_error(httplib::Response& res, ServingState& state, const Error& error) {
    if (error.code == "not_found" || error.code == "invalid_feedback") return send_error(res, state, error);
    state.metrics().count_feedback_store_error();
    send_error(res, state, Error{"store_unavailable", "the feedback store is unavailable; try again later"});
}

// Follows a parse up to its first error, to name the field whose text holds invalid UTF-8 (the parser
// stops inside that field's value, after its key).
class FieldAtError : public json::json_sax_t {
  public:
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(json::number_integer_t) override { return true; }
    bool number_unsigned(json::number_unsigned_t) override { return true; }
    bool number_float(json::number_float_t, const json::string_t&) override { return true; }
    bool string(json::string_t&) override { return true; }
    bool binary(json::binary_t&) override { return true; }
    bool start_object(std::size_t) override { return ++depth_, true; }
    bool end_object() override { return --depth_, true; }
    bool start_array(std::size_t) override { return ++depth_, true; }
    bool end_array() override { return --depth_, true; }
    bool key(json::string_t& key) override {
        if (depth_ == 1) field = key;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }
    std::string field = "body";

  private:
    int depth_ = 0;
};

Result<json> parse_object(const std::string& body, std::initializer_list<const char*> known) {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) {
        if (utf8::is_valid(body.begin(), body.end())) return invalid("body", "not valid JSON");
        FieldAtError follower;
        json::sax_parse(body, &follower);
        return invalid(follower.field, "not valid UTF-8");
    }
    if (!parsed.is_object()) return invalid("body", "a JSON object expected");
    for (const auto& [key, value] : parsed.items()) {
        if (std::find_if(known.begin(), known.end(), [&key](const char* k) { return key == k; }) ==
            known.end())
            return invalid(key, "unknown field (tier, model hash and time are set by the server)");
    }
    return parsed;
}

// A string field of at most `max_chars` characters; absent or null is "" unless `required`.
Result<std::string> text_field(const json& body, const char* field, size_t max_chars, bool required) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
        if (required) return invalid(field, "required");
        return std::string();
    }
    if (!it->is_string()) return invalid(field, "must be a string");
    std::string text = it->get<std::string>();
    if (required && text.empty()) return invalid(field, "required and not empty");
    if (static_cast<size_t>(utf8::distance(text.begin(), text.end())) > max_chars)
        return invalid(field, "longer than " + std::to_string(max_chars) + " characters");
    return text;
}

Result<std::vector<std::string>> issues_field(const json& body) {
    std::vector<std::string> issues;
    const auto it = body.find("issues");
    if (it == body.end() || it->is_null()) return issues;
    if (!it->is_array()) return invalid("issues", "must be an array of strings");
    const std::vector<std::string>& known = data::issue_categories();
    for (const json& issue : *it) {
        if (!issue.is_string()) return invalid("issues", "must be an array of strings");
        const std::string name = issue.get<std::string>();
        if (std::find(known.begin(), known.end(), name) == known.end())
            return invalid("issues", "unknown category \"" + name + "\" (GET /api/feedback/categories)");
        if (std::find(issues.begin(), issues.end(), name) == issues.end()) issues.push_back(name);
    }
    return issues;
}

// The turns before the prompt, re-serialised as [{role, content}].
Result<std::string> conversation_field(const json& body) {
    const auto it = body.find("conversation");
    if (it == body.end() || it->is_null()) return std::string("[]");
    if (!it->is_array()) return invalid("conversation", "must be an array of {role, content}");
    if (it->size() > kMaxTurns)
        return invalid("conversation", "more than " + std::to_string(kMaxTurns) + " turns");
    json turns = json::array();
    for (size_t i = 0; i < it->size(); ++i) {
        const json& turn = (*it)[i];
        const std::string field = "conversation[" + std::to_string(i) + "]";
        if (!turn.is_object()) return invalid(field, "must be an object {role, content}");
        const auto role = turn.find("role");
        if (role == turn.end() || !role->is_string() ||
            (*role != "user" && *role != "assistant" && *role != "system"))
            return invalid(field + ".role", "must be \"user\", \"assistant\" or \"system\"");
        Result<std::string> content = text_field(turn, "content", kMaxTextChars, false);
        if (!content) return Error{"invalid_feedback", field + "." + content.error().message};
        turns.push_back({{"role", *role}, {"content", *content}});
    }
    return turns.dump();
}

Result<data::FeedbackSubmission> parse_submission(const std::string& body) {
    Result<json> parsed = parse_object(
        body, {"prompt", "model_response", "issues", "notes", "ideal_response", "rating", "conversation"});
    if (!parsed) return parsed.error();
    data::FeedbackSubmission s;
    const std::pair<const char*, std::string*> texts[] = {
        {"prompt", &s.prompt}, {"model_response", &s.model_response}, {"ideal_response", &s.ideal_response}};
    for (const auto& [field, target] : texts) {
        const bool required = target != &s.ideal_response;
        Result<std::string> text = text_field(*parsed, field, kMaxTextChars, required);
        if (!text) return text.error();
        *target = std::move(*text);
    }
    Result<std::string> notes = text_field(*parsed, "notes", kMaxNotesChars, false);
    if (!notes) return notes.error();
    s.notes = std::move(*notes);
    Result<std::vector<std::string>> issues = issues_field(*parsed);
    if (!issues) return issues.error();
    s.issues = std::move(*issues);
    Result<std::string> rating = text_field(*parsed, "rating", 8, false);
    if (!rating) return rating.error();
    const std::optional<data::Rating> known = data::rating_from_string(rating->empty() ? "none" : *rating);
    if (!known) return invalid("rating", "must be \"up\", \"down\" or \"none\"");
    s.rating = *known;
    Result<std::string> conversation = conversation_field(*parsed);
    if (!conversation) return conversation.error();
    s.conversation_json = std::move(*conversation);
    return s;
}

json checks_json(const std::vector<data::StoredCheck>& checks) {
    json array = json::array();
    for (const data::StoredCheck& check : checks)
        array.push_back({{"name", check.name}, {"passed", check.passed}, {"reason", check.reason}});
    return array;
}

json record_json(const data::FeedbackRecord& record) {
    const data::FeedbackSubmission& s = record.submission;
    json conversation = json::parse(s.conversation_json, nullptr, false);
    if (conversation.is_discarded()) conversation = json::array();
    return {{"id", record.id},
            {"prompt", s.prompt},
            {"model_response", s.model_response},
            {"issues", s.issues},
            {"notes", s.notes},
            {"ideal_response", s.ideal_response},
            {"rating", data::to_string(s.rating)},
            {"conversation", conversation},
            {"tier", s.tier},
            {"model_hash", s.model_hash},
            {"checks", checks_json(s.checks)},
            {"state", data::to_string(record.state)},
            {"created_at", record.created_at},
            {"reviewed_at", record.reviewed_at.empty() ? json(nullptr) : json(record.reviewed_at)},
            {"review_note", record.review_note}};
}

bool reviewer(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    return check_api_key(
        req, res, state,
        Error{"review_disabled", "reviewing is disabled: start the server with --api-key or MIMIR_API_KEY"});
}

std::optional<int64_t> positive_id(const std::string& text) {
    int64_t id = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (error != std::errc() || end != text.data() + text.size() || id <= 0) return std::nullopt;
    return id;
}

Result<data::FeedbackFilter> parse_filter(const httplib::Request& req) {
    data::FeedbackFilter filter{.limit = kDefaultListLimit};
    auto bad = [](const char* param, const std::string& why) {
        return Error{"invalid_request", std::string(param) + ": " + why};
    };
    if (req.has_param("state")) {
        filter.state = data::review_state_from_string(req.get_param_value("state"));
        if (!filter.state) return bad("state", "must be pending, approved or rejected");
    }
    if (req.has_param("rating")) {
        filter.rating = data::rating_from_string(req.get_param_value("rating"));
        if (!filter.rating) return bad("rating", "must be up, down or none");
    }
    if (req.has_param("issue")) {
        const std::string issue = req.get_param_value("issue");
        const std::vector<std::string>& known = data::issue_categories();
        if (std::find(known.begin(), known.end(), issue) == known.end())
            return bad("issue", "unknown category \"" + issue + "\"");
        filter.issue = issue;
    }
    if (req.has_param("checks")) {
        const std::string checks = req.get_param_value("checks");
        if (checks != "passed" && checks != "failed") return bad("checks", "must be passed or failed");
        filter.checks_passed = checks == "passed";
    }
    if (req.has_param("before")) {
        const std::optional<int64_t> before = positive_id(req.get_param_value("before"));
        if (!before) return bad("before", "must be a positive id");
        filter.before_id = *before;
    }
    if (req.has_param("limit")) {
        const std::optional<int64_t> limit = positive_id(req.get_param_value("limit"));
        if (!limit || *limit > kMaxListLimit)
            return bad("limit", "must be between 1 and " + std::to_string(kMaxListLimit));
        filter.limit = static_cast<int>(*limit);
    }
    return filter;
}

// The store and the id in the path of a reviewer's request for one record; an error already sent if not.
struct RecordTarget {
    data::FeedbackStore* store;
    int64_t id;
};
std::optional<RecordTarget> record_target(const httplib::Request& req, httplib::Response& res,
                                          ServingState& state) {
    if (!reviewer(req, res, state)) return std::nullopt;
    data::FeedbackStore* store = store_or_503(res, state);
    if (!store) return std::nullopt;
    const std::optional<int64_t> id = positive_id(req.matches[1]);
    if (!id) {
        send_error(res, state, Error{"not_found", "no feedback with id " + std::string(req.matches[1])});
        return std::nullopt;
    }
    return RecordTarget{store, *id};
}

}  // namespace

void handle_feedback_categories(const httplib::Request&, httplib::Response& res, ServingState&) {
    send_json(res, 200, {{"issues", data::issue_categories()}});
}

void handle_feedback_check(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    if (!allowed(req, res, state) || !store_or_503(res, state)) return;
    Result<json> parsed = parse_object(req.body, {"prompt", "ideal_response"});
    if (!parsed) return send_error(res, state, parsed.error());
    Result<std::string> prompt = text_field(*parsed, "prompt", kMaxTextChars, false);
    if (!prompt) return send_error(res, state, prompt.error());
    if (!parsed->contains("ideal_response"))
        return send_error(res, state, invalid("ideal_response", "required"));
    Result<std::string> ideal = text_field(*parsed, "ideal_response", kMaxTextChars, false);
    if (!ideal) return send_error(res, state, ideal.error());
    const std::vector<data::StoredCheck> checks = state.feedback().check(*prompt, *ideal);
    const bool passed = std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.passed; });
    send_json(res, 200, {{"passed", passed}, {"checks", checks_json(checks)}});
}

void handle_feedback_submit(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    if (!allowed(req, res, state)) return;
    data::FeedbackStore* store = store_or_503(res, state);
    if (!store) return;
    Result<data::FeedbackSubmission> submission = parse_submission(req.body);
    if (!submission) return send_error(res, state, submission.error());
    if (!submission->ideal_response.empty())
        submission->checks = state.feedback().check(submission->prompt, submission->ideal_response);
    const ModelInfo info = state.info();
    submission->tier = info.model_type();
    submission->model_hash = info.file_sha256;
    Result<int64_t> id = store->add(*submission);
    if (!id) return send_store_error(res, state, id.error());
    state.metrics().count_feedback_submission(data::to_string(submission->rating));
    spdlog::info("event=feedback_added id={} rating={} issues={} tier={}", *id,
                 data::to_string(submission->rating), submission->issues.size(), submission->tier);
    send_json(res, 201, {{"id", *id}, {"checks", checks_json(submission->checks)}});
}

void handle_feedback_list(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    if (!reviewer(req, res, state)) return;
    data::FeedbackStore* store = store_or_503(res, state);
    if (!store) return;
    Result<data::FeedbackFilter> filter = parse_filter(req);
    if (!filter) return send_error(res, state, filter.error());
    Result<std::vector<data::FeedbackRecord>> records = store->list(*filter);
    if (!records) return send_store_error(res, state, records.error());
    json items = json::array();
    for (const data::FeedbackRecord& record : *records) items.push_back(record_json(record));
    // A full page may have more after it; the client asks again with before=next_before.
    const bool full = static_cast<int>(records->size()) == filter->limit;
    res.set_header("Cache-Control", "no-store");
    send_json(res, 200, {{"items", items}, {"next_before", full ? json(records->back().id) : json(nullptr)}});
}

void handle_feedback_get(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    const std::optional<RecordTarget> target = record_target(req, res, state);
    if (!target) return;
    data::FeedbackStore* store = target->store;
    const int64_t id = target->id;
    Result<data::FeedbackRecord> record = store->get(id);
    if (!record) return send_store_error(res, state, record.error());
    res.set_header("Cache-Control", "no-store");
    send_json(res, 200, record_json(*record));
}

void handle_feedback_review(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    const std::optional<RecordTarget> target = record_target(req, res, state);
    if (!target) return;
    data::FeedbackStore* store = target->store;
    const int64_t id = target->id;
    Result<json> parsed = parse_object(req.body, {"state", "ideal_response", "note"});
    if (!parsed) return send_error(res, state, parsed.error());
    Result<std::string> state_text = text_field(*parsed, "state", 16, true);
    if (!state_text) return send_error(res, state, state_text.error());
    const std::optional<data::ReviewState> decided = data::review_state_from_string(*state_text);
    if (!decided) return send_error(res, state, invalid("state", "must be approved, rejected or pending"));
    Result<std::string> note = text_field(*parsed, "note", kMaxNotesChars, false);
    if (!note) return send_error(res, state, note.error());
    data::ReviewDecision decision{.state = *decided, .note = std::move(*note)};
    if (parsed->contains("ideal_response") && !(*parsed)["ideal_response"].is_null()) {
        Result<std::string> edited = text_field(*parsed, "ideal_response", kMaxTextChars, false);
        if (!edited) return send_error(res, state, edited.error());
        Result<data::FeedbackRecord> current = store->get(id);
        if (!current) return send_store_error(res, state, current.error());
        decision.checks = state.feedback().check(current->submission.prompt, *edited);
        decision.edited_ideal_response = std::move(*edited);
    }
    Result<data::FeedbackRecord> reviewed = store->review(id, decision);
    if (!reviewed) return send_store_error(res, state, reviewed.error());
    spdlog::info("event=feedback_reviewed id={} state={} edited={}", id, data::to_string(decision.state),
                 decision.edited_ideal_response.has_value());
    send_json(res, 200, record_json(*reviewed));
}

}  // namespace mimir::serve
