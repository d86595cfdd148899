// The learning loop's endpoints end to end on 127.0.0.1 with a SQLite store in a scratch folder: every
// endpoint of the contract in docs/api.md and every error it lists.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "serve_test_support.h"
#include "support/test_models.h"

namespace mimir::serve::test {
namespace {

using nlohmann::json;

const httplib::Headers kReviewer = {{"Authorization", "Bearer test-key"}};

class FeedbackTest : public ::testing::Test {
  protected:
    void SetUp() override { dir = mimir::test::scratch_dir(); }

    ServeOptions options() const {
        ServeOptions o = test_options();
        o.data_location = dir + "/feedback.db";
        o.phrases_dir = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/checks";
        o.feedback_rate_limit_per_minute = 0;
        return o;
    }

    std::string dir;
};

json feedback(const std::string& prompt = "What is 2 + 2?") {
    return {{"prompt", prompt},
            {"model_response", "Oh, the dance of numbers!!! It is 4 :D"},
            {"issues", {"Tone", "Gives the Answer Away"}},
            {"notes", "Gave the answer away, with an emoticon."},
            {"ideal_response", "What do you get when you count on two from 2?"},
            {"rating", "down"},
            {"conversation",
             {{{"role", "user"}, {"content", "Hi"}}, {{"role", "assistant"}, {"content", "Hello."}}}}};
}

httplib::Result post(httplib::Client& client, const std::string& path, const std::string& body,
                     const httplib::Headers& headers = {}) {
    return client.Post(path, headers, body, "application/json");
}

void expect_error(const httplib::Result& res, int status, const std::string& code,
                  const std::string& message_part = "") {
    ASSERT_TRUE(res) << "no response";
    EXPECT_EQ(res->status, status) << res->body;
    json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_EQ(body["error"]["code"], code) << res->body;
    EXPECT_NE(body["error"]["message"].get<std::string>().find(message_part), std::string::npos) << res->body;
}

int64_t submit(httplib::Client& client, const json& body) {
    auto res = post(client, "/api/feedback", body.dump());
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no response");
    return res && res->status == 201 ? json::parse(res->body)["id"].get<int64_t>() : -1;
}

json listed(httplib::Client& client, const std::string& query) {
    auto res = client.Get("/api/feedback" + query, kReviewer);
    EXPECT_TRUE(res && res->status == 200) << query << ": " << (res ? res->body : "no response");
    return res ? json::parse(res->body, nullptr, false) : json();
}

std::vector<int64_t> ids(const json& page) {
    std::vector<int64_t> out;
    for (const json& item : page["items"]) out.push_back(item["id"].get<int64_t>());
    return out;
}

TEST_F(FeedbackTest, CategoriesAreTheDataSetsIssueNames) {
    TestServer server(ModelPaths{}, options());
    auto res = server.client()->Get("/api/feedback/categories");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    const json body = json::parse(res->body);
    EXPECT_EQ(body["issues"].get<std::vector<std::string>>(), data::issue_categories());
    EXPECT_NE(std::find(body["issues"].begin(), body["issues"].end(), "Writing Quality"),
              body["issues"].end());
}

TEST_F(FeedbackTest, CheckRunsTheEvaluationsChecksOnTheRewrite) {
    TestServer server(ModelPaths{}, options());
    auto client = server.client();
    auto bad = post(*client, "/api/feedback/check",
                    json{{"prompt", "What is 2 + 2?"}, {"ideal_response", "It is 4 :D"}}.dump());
    ASSERT_TRUE(bad);
    ASSERT_EQ(bad->status, 200) << bad->body;
    const json verdict = json::parse(bad->body);
    EXPECT_FALSE(verdict["passed"].get<bool>());
    bool emoticon_failed = false;
    for (const json& check : verdict["checks"]) {
        if (check["name"] == "tone.no_emoticons") {
            emoticon_failed = !check["passed"].get<bool>();
            EXPECT_NE(check["reason"].get<std::string>().find(":D"), std::string::npos) << check;
        }
    }
    EXPECT_TRUE(emoticon_failed) << verdict;

    auto good = post(*client, "/api/feedback/check",
                     json{{"ideal_response", "What do you get when you count on two from 2?"}}.dump());
    ASSERT_TRUE(good);
    ASSERT_EQ(good->status, 200) << good->body;
    EXPECT_TRUE(json::parse(good->body)["passed"].get<bool>()) << good->body;
    EXPECT_FALSE(json::parse(good->body)["checks"].empty());

    expect_error(post(*client, "/api/feedback/check", json{{"prompt", "x"}}.dump()), 400, "invalid_feedback",
                 "ideal_response");
    expect_error(post(*client, "/api/feedback/check", json{{"ideal_response", 3}}.dump()), 400,
                 "invalid_feedback", "ideal_response");
}

TEST_F(FeedbackTest, ASubmissionIsStoredWithTierHashTimeAndChecksAndHtmlKeptAsText) {
    const std::string model = mimir::test::tiny_model_path();
    TestServer server(ModelPaths{.fine_tuned = model}, options());
    auto client = server.client();
    json sent = feedback();
    sent["notes"] = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quoted\"";
    sent["ideal_response"] = "It is 4 :D <b>bold</b>";
    auto res = post(*client, "/api/feedback", sent.dump());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 201) << res->body;
    const json created = json::parse(res->body);
    const int64_t id = created["id"].get<int64_t>();
    EXPECT_GT(id, 0);
    EXPECT_FALSE(created["checks"].empty());

    auto got = client->Get("/api/feedback/" + std::to_string(id), kReviewer);
    ASSERT_TRUE(got);
    ASSERT_EQ(got->status, 200) << got->body;
    EXPECT_EQ(got->get_header_value("Content-Type"), "application/json");
    const json record = json::parse(got->body);
    for (const char* field :
         {"prompt", "model_response", "issues", "notes", "ideal_response", "rating", "conversation"})
        EXPECT_EQ(record[field], sent[field]) << field;
    EXPECT_EQ(record["tier"], "fine-tuned");
    EXPECT_TRUE(record["model_hash"].is_string());
    EXPECT_EQ(record["checks"], created["checks"]);
    EXPECT_EQ(record["state"], "pending");
    EXPECT_TRUE(record["reviewed_at"].is_null());
    EXPECT_FALSE(record["created_at"].get<std::string>().empty());

    auto metrics = client->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metric_value(metrics->body, R"(mimir_feedback_submissions_total{rating="down"})"), 1);
    EXPECT_EQ(metric_value(metrics->body, R"(mimir_feedback_submissions_total{rating="up"})"), 0);
    EXPECT_EQ(metric_value(metrics->body, "mimir_feedback_store_errors_total"), 0);

    auto status = client->Get("/api/status");
    ASSERT_TRUE(status);
    EXPECT_EQ(json::parse(status->body)["feedback_store"], "sqlite:" + dir + "/feedback.db");
}

TEST_F(FeedbackTest, BadSubmissionsGet400NamingTheFieldAndStoreNothing) {
    TestServer server(ModelPaths{}, options());
    auto client = server.client();
    auto with = [](const char* field, json value) {
        json body = feedback();
        body[field] = std::move(value);
        return body.dump();
    };
    auto without = [](const char* field) {
        json body = feedback();
        body.erase(field);
        return body.dump();
    };
    json too_many_turns = json::array();
    for (int i = 0; i < 101; ++i) too_many_turns.push_back({{"role", "user"}, {"content", "hi"}});
    const std::pair<std::string, std::string> cases[] = {
        {without("prompt"), "prompt"},
        {without("model_response"), "model_response"},
        {with("prompt", ""), "prompt"},
        {with("prompt", 42), "prompt"},
        {with("model_response", json::array()), "model_response"},
        {with("issues", "Tone"), "issues"},
        {with("issues", {"Tone", "Spelling"}), "issues"},
        {with("issues", {1}), "issues"},
        {with("notes", json::object()), "notes"},
        {with("rating", "meh"), "rating"},
        {with("rating", true), "rating"},
        {with("conversation", "hi"), "conversation"},
        {with("conversation", too_many_turns), "conversation"},
        {with("conversation", {{{"role", "robot"}, {"content", "x"}}}), "conversation[0].role"},
        {with("conversation", {{{"role", "user"}, {"content", 5}}}), "conversation[0].content"},
        {with("notes", std::string(10001, 'n')), "notes"},
        {with("prompt", std::string(20001, 'p')), "prompt"},
        {with("ideal_response", std::string(20001, 'i')), "ideal_response"},
        {with("tier", "fine-tuned"), "tier"},
        {"{\"prompt\": \"bad \xC3\x28 byte\", \"model_response\": \"x\"}", "prompt: not valid UTF-8"},
        {"{\"prompt\": \"ok\", \"model_response\": \"x\", \"notes\": \"\xFF\"}", "notes: not valid UTF-8"},
        {"{\"prompt\": \"ok\", \"model_response\": \"x\", \"conversation\": [{\"role\": \"user\", "
         "\"content\": \"\xED\xA0\x80\"}]}",
         "conversation: not valid UTF-8"},
        {"{\"prompt\": ", "JSON"},
        {"[1, 2]", "object"},
    };
    for (const auto& [body, field] : cases) {
        SCOPED_TRACE(body.substr(0, 120));
        expect_error(post(*client, "/api/feedback", body), 400, "invalid_feedback", field);
    }
    // A multi-byte character counts once: 20000 of them fit.
    std::string wide;
    for (int i = 0; i < 20000; ++i) wide += "é";
    EXPECT_GT(submit(*client, json::parse(with("prompt", wide))), 0);
    const json all = listed(*client, "");
    EXPECT_EQ(all["items"].size(), 1u) << "only the valid submission is stored";
}

TEST_F(FeedbackTest, AMegabyteOfNotesIsRefusedWholeAndNothingIsStored) {
    const std::string megabyte(1 << 20, 'n');
    {
        TestServer server(ModelPaths{}, options());  // the default 1 MiB body limit
        auto client = server.client();
        json body = feedback();
        body["notes"] = megabyte;
        expect_error(post(*client, "/api/feedback", body.dump()), 413, "request_too_large");
        EXPECT_TRUE(listed(*client, "")["items"].empty());
    }
    ServeOptions roomy = options();
    roomy.max_body_bytes = 4 << 20;
    TestServer server(ModelPaths{}, roomy);
    auto client = server.client();
    json body = feedback();
    body["notes"] = megabyte;
    expect_error(post(*client, "/api/feedback", body.dump()), 400, "invalid_feedback", "notes");
    EXPECT_TRUE(listed(*client, "")["items"].empty());
}

TEST_F(FeedbackTest, AFloodFromOneClientIsRateLimited) {
    ServeOptions limited = options();
    limited.feedback_rate_limit_per_minute = 6;
    limited.feedback_rate_limit_burst = 3;
    TestServer server(ModelPaths{}, limited);
    auto client = server.client();
    int accepted = 0;
    for (int i = 0; i < 10; ++i) {
        auto res = post(*client, "/api/feedback", feedback("flood " + std::to_string(i)).dump());
        ASSERT_TRUE(res);
        if (res->status != 201) {
            expect_error(res, 429, "rate_limited");
            EXPECT_FALSE(res->get_header_value("Retry-After").empty());
            break;
        }
        ++accepted;
    }
    EXPECT_EQ(accepted, 3);
    expect_error(post(*client, "/api/feedback/check", json{{"ideal_response", "x"}}.dump()), 429,
                 "rate_limited");
    EXPECT_EQ(listed(*client, "")["items"].size(), 3u) << "refused requests store nothing";
}

TEST_F(FeedbackTest, ReviewEndpointsNeedTheApiKeyAsReloadDoes) {
    TestServer server(ModelPaths{}, options());
    auto client = server.client();
    const int64_t id = submit(*client, feedback());
    const std::string one = "/api/feedback/" + std::to_string(id);
    const httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
    expect_error(client->Get("/api/feedback"), 401, "invalid_api_key", "required");
    expect_error(client->Get("/api/feedback", wrong), 401, "invalid_api_key", "not valid");
    expect_error(client->Get(one), 401, "invalid_api_key");
    expect_error(post(*client, one + "/review", R"({"state":"approved"})", wrong), 401, "invalid_api_key");
    auto fetched = client->Get(one, kReviewer);
    ASSERT_TRUE(fetched);
    EXPECT_EQ(json::parse(fetched->body)["state"], "pending") << "a refused review changes nothing";

    ServeOptions keyless = options();
    keyless.api_key = "";
    keyless.data_location = dir + "/other.db";
    TestServer open_server(ModelPaths{}, keyless);
    expect_error(open_server.client()->Get("/api/feedback", kReviewer), 403, "review_disabled");
}

TEST_F(FeedbackTest, ReviewListsFiltersPagesAndRecordsDecisions) {
    TestServer server(ModelPaths{}, options());
    auto client = server.client();
    json up = feedback("up row");
    up["rating"] = "up";
    up["issues"] = json::array();
    up.erase("ideal_response");
    json failing = feedback("failing row");
    failing["ideal_response"] = "It is 4 :D";
    failing["issues"] = {"Accuracy"};
    const int64_t first = submit(*client, feedback("first row"));
    const int64_t second = submit(*client, up);
    const int64_t third = submit(*client, failing);

    EXPECT_EQ(ids(listed(*client, "")), (std::vector<int64_t>{third, second, first}));
    EXPECT_EQ(ids(listed(*client, "?rating=up")), std::vector<int64_t>{second});
    EXPECT_EQ(ids(listed(*client, "?issue=Accuracy")), std::vector<int64_t>{third});
    EXPECT_EQ(ids(listed(*client, "?issue=Gives%20the%20Answer%20Away")), std::vector<int64_t>{first});
    EXPECT_EQ(ids(listed(*client, "?checks=failed")), std::vector<int64_t>{third});
    const json page = listed(*client, "?limit=2");
    EXPECT_EQ(ids(page), (std::vector<int64_t>{third, second}));
    ASSERT_EQ(page["next_before"], second);
    const json rest = listed(*client, "?limit=2&before=" + std::to_string(second));
    EXPECT_EQ(ids(rest), std::vector<int64_t>{first});
    EXPECT_TRUE(rest["next_before"].is_null());

    // Approving with an edit re-checks the new rewrite and replaces its checks.
    auto reviewed = post(
        *client, "/api/feedback/" + std::to_string(third) + "/review",
        R"({"state":"approved","ideal_response":"What do you get when you add 2 and 2?","note":"fixed"})",
        kReviewer);
    ASSERT_TRUE(reviewed);
    ASSERT_EQ(reviewed->status, 200) << reviewed->body;
    const json record = json::parse(reviewed->body);
    EXPECT_EQ(record["state"], "approved");
    EXPECT_EQ(record["ideal_response"], "What do you get when you add 2 and 2?");
    EXPECT_EQ(record["review_note"], "fixed");
    EXPECT_FALSE(record["reviewed_at"].is_null());
    for (const json& check : record["checks"]) EXPECT_TRUE(check["passed"].get<bool>()) << check;
    EXPECT_EQ(ids(listed(*client, "?state=approved")), std::vector<int64_t>{third});
    EXPECT_EQ(ids(listed(*client, "?state=pending")), (std::vector<int64_t>{second, first}));
    EXPECT_TRUE(listed(*client, "?checks=failed")["items"].empty());
    auto rejected = post(*client, "/api/feedback/" + std::to_string(first) + "/review",
                         R"({"state":"rejected"})", kReviewer);
    ASSERT_TRUE(rejected);
    EXPECT_EQ(json::parse(rejected->body)["state"], "rejected");
    EXPECT_EQ(json::parse(rejected->body)["ideal_response"], feedback()["ideal_response"]) << "no edit, kept";

    for (const char* query : {"?state=done", "?rating=meh", "?issue=Spelling", "?checks=maybe", "?before=0",
                              "?before=x", "?limit=0", "?limit=201"})
        expect_error(client->Get(std::string("/api/feedback") + query, kReviewer), 400, "invalid_request");
    expect_error(client->Get("/api/feedback/999", kReviewer), 404, "not_found");
    expect_error(post(*client, "/api/feedback/999/review", R"({"state":"approved"})", kReviewer), 404,
                 "not_found");
    const std::string review_first = "/api/feedback/" + std::to_string(first) + "/review";
    expect_error(post(*client, review_first, R"({"state":"done"})", kReviewer), 400, "invalid_feedback",
                 "state");
    expect_error(post(*client, review_first, R"({})", kReviewer), 400, "invalid_feedback", "state");
    expect_error(post(*client, review_first, R"({"state":"approved","ideal_response":7})", kReviewer), 400,
                 "invalid_feedback", "ideal_response");
}

// A store whose every call fails, as a database gone away would.
class UnavailableStore : public data::FeedbackStore {
  public:
    Result<int64_t> add(const data::FeedbackSubmission&) override { return down(); }
    Result<data::FeedbackRecord> get(int64_t) override { return down(); }
    Result<std::vector<data::FeedbackRecord>> list(const data::FeedbackFilter&) override { return down(); }
    Result<data::FeedbackRecord> review(int64_t, const data::ReviewDecision&) override { return down(); }
    std::string describe() const override { return "postgresql://mimir@db.example/feedback"; }

  private:
    static Error down() { return Error{"store_unavailable", "db.example: connection refused"}; }
};

TEST_F(FeedbackTest, StoreFailuresAre503AndCountedAndTheServerServesOn) {
    ServeOptions failing = options();
    failing.feedback_store = std::make_shared<UnavailableStore>();
    TestServer server(ModelPaths{}, failing);
    auto client = server.client();
    expect_error(post(*client, "/api/feedback", feedback().dump()), 503, "store_unavailable");
    expect_error(client->Get("/api/feedback", kReviewer), 503, "store_unavailable");
    expect_error(client->Get("/api/feedback/1", kReviewer), 503, "store_unavailable");
    expect_error(post(*client, "/api/feedback/1/review", R"({"state":"approved"})", kReviewer), 503,
                 "store_unavailable");
    auto metrics = client->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metric_value(metrics->body, "mimir_feedback_store_errors_total"), 4);
    EXPECT_EQ(metric_value(metrics->body, R"(mimir_feedback_submissions_total{rating="down"})"), 0);
    auto status = client->Get("/api/status");
    ASSERT_TRUE(status);
    EXPECT_EQ(json::parse(status->body)["feedback_store"], "postgresql://mimir@db.example/feedback");
}

TEST_F(FeedbackTest, TheServerDoesNotStartOnAStoreItCannotOpen) {
    ServeOptions broken = options();
    broken.data_location = dir + "/not-a-database.db";
    std::ofstream(broken.data_location) << std::string(8192, 'x');
    Server garbage(ModelPaths{}, broken);
    Status started = garbage.start();
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().code, "store_unavailable");
    EXPECT_NE(started.error().message.find(broken.data_location), std::string::npos)
        << started.error().message;

    ServeOptions no_phrases = options();
    no_phrases.phrases_dir = dir + "/no-such-folder";
    Server phraseless(ModelPaths{}, no_phrases);
    Status refused = phraseless.start();
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("no-such-folder"), std::string::npos) << refused.error().message;
}

TEST_F(FeedbackTest, WithoutAStoreTheFeedbackEndpointsAnswer503) {
    ServeOptions none = options();
    none.data_location = "";
    TestServer server(ModelPaths{}, none);
    auto client = server.client();
    expect_error(post(*client, "/api/feedback", feedback().dump()), 503, "store_unavailable", "--data");
    auto status = client->Get("/api/status");
    ASSERT_TRUE(status);
    EXPECT_TRUE(json::parse(status->body)["feedback_store"].is_null());
}

}  // namespace
}  // namespace mimir::serve::test
