// The same cases against both feedback store back ends: SQLite in a scratch file, PostgreSQL on a real
// server started for this test process (skipped, with the reason, where none can start).
#include "data/feedback_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "store_test_backends.h"

namespace mimir::data {
namespace {

template <typename Backend>
class FeedbackStoreTest : public testing::Test {
  protected:
    void SetUp() override {
        if (const std::string reason = Backend::unavailable_reason(); !reason.empty()) GTEST_SKIP() << reason;
    }

    std::unique_ptr<FeedbackStore> open(const std::string& location) {
        Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(location);
        EXPECT_TRUE(store) << store.error().code << ": " << store.error().message;
        return store ? std::move(*store) : nullptr;
    }
    std::unique_ptr<FeedbackStore> open_fresh() { return open(Backend::fresh_location()); }
};

using Backends = testing::Types<test::SqliteBackend, test::PostgresBackend>;
struct BackendNames {
    template <typename Backend>
    static std::string GetName(int) {
        return Backend::kName;
    }
};
TYPED_TEST_SUITE(FeedbackStoreTest, Backends, BackendNames);

FeedbackSubmission submission(const std::string& prompt, Rating rating = Rating::down,
                              std::vector<std::string> issues = {"Tone"}, bool checks_pass = true) {
    return FeedbackSubmission{
        .prompt = prompt,
        .model_response = "Oh, the dance of numbers!!! It is 4 :D",
        .issues = std::move(issues),
        .notes = "too flowery <script>alert('x')</script>",
        .ideal_response = "What do you get when you count on by two?",
        .rating = rating,
        .conversation_json = R"([{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}])",
        .tier = "fine_tuned",
        .model_hash = "9f2c",
        .checks = {{.name = "tone.no_emoticons", .passed = checks_pass, .reason = checks_pass ? "" : ":D"},
                   {.name = "writing.complete", .passed = true, .reason = ""}}};
}

std::vector<int64_t> ids_of(const std::vector<FeedbackRecord>& records) {
    std::vector<int64_t> ids;
    for (const FeedbackRecord& record : records) ids.push_back(record.id);
    return ids;
}

TYPED_TEST(FeedbackStoreTest, AddThenGetReturnsWhatWasSubmitted) {
    auto store = this->open_fresh();
    ASSERT_TRUE(store);
    const FeedbackSubmission sent =
        submission("What is 2 + 2? 🙂 ünïcödé", Rating::down, {"Tone", "Accuracy"}, false);
    Result<int64_t> id = store->add(sent);
    ASSERT_TRUE(id) << id.error().message;
    Result<FeedbackRecord> got = store->get(*id);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->id, *id);
    const FeedbackSubmission& s = got->submission;
    EXPECT_EQ(s.prompt, sent.prompt);
    EXPECT_EQ(s.model_response, sent.model_response);
    EXPECT_EQ(s.issues, sent.issues);
    EXPECT_EQ(s.notes, sent.notes);  // HTML kept as the text it is
    EXPECT_EQ(s.ideal_response, sent.ideal_response);
    EXPECT_EQ(s.rating, Rating::down);
    EXPECT_EQ(s.conversation_json, sent.conversation_json);
    EXPECT_EQ(s.tier, "fine_tuned");
    EXPECT_EQ(s.model_hash, "9f2c");
    ASSERT_EQ(s.checks.size(), 2u);
    EXPECT_EQ(s.checks[0].name, "tone.no_emoticons");
    EXPECT_FALSE(s.checks[0].passed);
    EXPECT_EQ(s.checks[0].reason, ":D");
    EXPECT_EQ(got->state, ReviewState::pending);
    EXPECT_EQ(got->created_at.size(), std::string("2026-12-01T19:04:05.123Z").size()) << got->created_at;
    EXPECT_TRUE(got->reviewed_at.empty());
}

TYPED_TEST(FeedbackStoreTest, RefusesInvalidSubmissionsAndStoresNothing) {
    auto store = this->open_fresh();
    ASSERT_TRUE(store);
    const std::pair<FeedbackSubmission, std::string> invalid[] = {
        {[] {
             auto s = submission("x");
             s.prompt = "";
             return s;
         }(),
         "prompt"},
        {[] {
             auto s = submission("x");
             s.model_response = "";
             return s;
         }(),
         "model_response"},
        {submission("x", Rating::down, {"Tone", "Spelling"}), "issues"},
        {[] {
             auto s = submission("x");
             s.notes = "bad \xC3\x28 byte";
             return s;
         }(),
         "notes"},
        {[] {
             auto s = submission("x");
             s.ideal_response = std::string("nul\0inside", 10);
             return s;
         }(),
         "ideal_response"},
    };
    for (const auto& [sent, field] : invalid) {
        Result<int64_t> id = store->add(sent);
        ASSERT_FALSE(id) << field;
        EXPECT_EQ(id.error().code, "invalid_feedback");
        EXPECT_NE(id.error().message.find(field), std::string::npos) << id.error().message;
    }
    Result<std::vector<FeedbackRecord>> all = store->list({});
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->empty());
}

TYPED_TEST(FeedbackStoreTest, UnknownIdIsNotFound) {
    auto store = this->open_fresh();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->get(42).error().code, "not_found");
    EXPECT_EQ(store->review(42, {.state = ReviewState::approved}).error().code, "not_found");
}

TYPED_TEST(FeedbackStoreTest, ListFiltersNewestFirstAndPages) {
    auto store = this->open_fresh();
    ASSERT_TRUE(store);
    std::vector<int64_t> ids;
    const std::tuple<Rating, std::vector<std::string>, bool> rows[] = {
        {Rating::down, {"Tone"}, true},
        {Rating::up, {}, true},
        {Rating::down, {"Accuracy", "Tone"}, false},
        {Rating::none, {"Other"}, false},
        {Rating::down, {"Writing Quality"}, true},
    };
    for (const auto& [rating, issues, passes] : rows) {
        Result<int64_t> id =
            store->add(submission("prompt " + std::to_string(ids.size()), rating, issues, passes));
        ASSERT_TRUE(id) << id.error().message;
        ids.push_back(*id);
    }
    ASSERT_TRUE(store->review(ids[0], {.state = ReviewState::approved}));
    ASSERT_TRUE(store->review(ids[3], {.state = ReviewState::rejected}));

    auto listed = [&](FeedbackFilter filter) {
        Result<std::vector<FeedbackRecord>> records = store->list(filter);
        EXPECT_TRUE(records) << records.error().message;
        return records ? ids_of(*records) : std::vector<int64_t>{};
    };
    EXPECT_EQ(listed({}), (std::vector<int64_t>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
    EXPECT_EQ(listed({.state = ReviewState::pending}), (std::vector<int64_t>{ids[4], ids[2], ids[1]}));
    EXPECT_EQ(listed({.state = ReviewState::approved}), (std::vector<int64_t>{ids[0]}));
    EXPECT_EQ(listed({.state = ReviewState::rejected}), (std::vector<int64_t>{ids[3]}));
    EXPECT_EQ(listed({.rating = Rating::down}), (std::vector<int64_t>{ids[4], ids[2], ids[0]}));
    EXPECT_EQ(listed({.rating = Rating::none}), (std::vector<int64_t>{ids[3]}));
    EXPECT_EQ(listed({.issue = "Tone"}), (std::vector<int64_t>{ids[2], ids[0]}));
    EXPECT_EQ(listed({.issue = "Writing Quality"}), (std::vector<int64_t>{ids[4]}));
    EXPECT_EQ(listed({.checks_passed = false}), (std::vector<int64_t>{ids[3], ids[2]}));
    EXPECT_EQ(listed({.checks_passed = true}), (std::vector<int64_t>{ids[4], ids[1], ids[0]}));
    EXPECT_EQ(listed({.state = ReviewState::pending, .rating = Rating::down, .issue = "Tone"}),
              (std::vector<int64_t>{ids[2]}));

    // Pages of two, each starting below the last id seen, cover every row once.
    std::vector<int64_t> paged;
    FeedbackFilter page{.limit = 2};
    for (;;) {
        std::vector<int64_t> got = listed(page);
        ASSERT_LE(got.size(), 2u);
        if (got.empty()) break;
        paged.insert(paged.end(), got.begin(), got.end());
        page.before_id = got.back();
    }
    EXPECT_EQ(paged, listed({}));
}

TYPED_TEST(FeedbackStoreTest, ReviewEditsTheRewriteAndReplacesItsChecks) {
    auto store = this->open_fresh();
    ASSERT_TRUE(store);
    Result<int64_t> id = store->add(submission("Define a noun.", Rating::down, {"Tone"}, false));
    ASSERT_TRUE(id);
    Result<FeedbackRecord> reviewed =
        store->review(*id, {.state = ReviewState::approved,
                            .edited_ideal_response = "A noun names a person, place or thing.",
                            .checks = {{.name = "tone.no_emoticons", .passed = true, .reason = ""}},
                            .note = "shortened"});
    ASSERT_TRUE(reviewed) << reviewed.error().message;
    EXPECT_EQ(reviewed->state, ReviewState::approved);
    EXPECT_EQ(reviewed->submission.ideal_response, "A noun names a person, place or thing.");
    ASSERT_EQ(reviewed->submission.checks.size(), 1u);
    EXPECT_TRUE(reviewed->submission.checks[0].passed);
    EXPECT_EQ(reviewed->review_note, "shortened");
    EXPECT_FALSE(reviewed->reviewed_at.empty());
    EXPECT_EQ(reviewed->submission.prompt, "Define a noun.");  // untouched
    Result<std::vector<FeedbackRecord>> passing = store->list({.checks_passed = true});
    ASSERT_TRUE(passing);
    EXPECT_EQ(ids_of(*passing), std::vector<int64_t>{*id});

    // A decision without an edit keeps the rewrite; back to pending clears the review time.
    Result<FeedbackRecord> pending = store->review(*id, {.state = ReviewState::pending});
    ASSERT_TRUE(pending);
    EXPECT_EQ(pending->state, ReviewState::pending);
    EXPECT_TRUE(pending->reviewed_at.empty());
    EXPECT_EQ(pending->submission.ideal_response, "A noun names a person, place or thing.");
}

TYPED_TEST(FeedbackStoreTest, ConcurrentAddsFromSeveralThreadsAreEachStoredOnce) {
    auto store = this->open_fresh();
    ASSERT_TRUE(store);
    constexpr int kThreads = 6, kEach = 20;
    std::vector<std::vector<std::pair<int64_t, std::string>>> added(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                const std::string prompt = "thread " + std::to_string(t) + " row " + std::to_string(i);
                Result<int64_t> id = store->add(submission(prompt));
                if (id) added[t].emplace_back(*id, prompt);
                // Reads interleave with the writes.
                if (id && !store->get(*id)) added[t].emplace_back(-1, "read failed");
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    std::set<int64_t> ids;
    for (const auto& rows : added) {
        ASSERT_EQ(rows.size(), static_cast<size_t>(kEach));
        for (const auto& [id, prompt] : rows) {
            ASSERT_GT(id, 0) << prompt;
            EXPECT_TRUE(ids.insert(id).second) << "id " << id << " given twice";
            Result<FeedbackRecord> got = store->get(id);
            ASSERT_TRUE(got);
            EXPECT_EQ(got->submission.prompt, prompt);
        }
    }
    Result<std::vector<FeedbackRecord>> all = store->list({.limit = FeedbackFilter::kMaxListLimit});
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * kEach));
}

TYPED_TEST(FeedbackStoreTest, RowsSurviveReopening) {
    const std::string location = TypeParam::fresh_location();
    int64_t id = 0;
    {
        auto store = this->open(location);
        ASSERT_TRUE(store);
        Result<int64_t> added = store->add(submission("kept?"));
        ASSERT_TRUE(added);
        id = *added;
    }
    auto reopened = this->open(location);
    ASSERT_TRUE(reopened);
    Result<FeedbackRecord> got = reopened->get(id);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->submission.prompt, "kept?");
}

TYPED_TEST(FeedbackStoreTest, MigratesAStoreOfAnOlderSchema) {
    const std::string location = TypeParam::fresh_location();
    TypeParam::run_sql(location, TypeParam::schema_v1());
    auto store = this->open(location);
    ASSERT_TRUE(store);
    Result<std::vector<FeedbackRecord>> all = store->list({});
    ASSERT_TRUE(all) << all.error().message;
    ASSERT_EQ(all->size(), 1u);
    const FeedbackRecord& old = all->front();
    EXPECT_EQ(old.submission.prompt, "What is 2 + 2?");
    EXPECT_EQ(old.submission.issues, std::vector<std::string>{"Tone"});
    EXPECT_EQ(old.state, ReviewState::pending);
    EXPECT_TRUE(old.reviewed_at.empty());
    Result<FeedbackRecord> reviewed = store->review(old.id, {.state = ReviewState::approved, .note = "ok"});
    ASSERT_TRUE(reviewed) << reviewed.error().message;
    EXPECT_EQ(reviewed->review_note, "ok");
    Result<int64_t> added = store->add(submission("new row"));
    ASSERT_TRUE(added);
    EXPECT_GT(*added, old.id);
    store.reset();
    EXPECT_TRUE(this->open(location)) << "a migrated store opens again";
}

TYPED_TEST(FeedbackStoreTest, RefusesAStoreWrittenByANewerSchema) {
    const std::string location = TypeParam::fresh_location();
    TypeParam::run_sql(location,
                       "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                       "INSERT INTO schema_version (version) VALUES (99)");
    Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(location);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, "schema_too_new");
    EXPECT_NE(store.error().message.find("99"), std::string::npos) << store.error().message;
}

TYPED_TEST(FeedbackStoreTest, SomethingThatIsNotAStoreGivesAClearError) {
    const std::string location = TypeParam::foreign_location();
    Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(location);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, "store_unavailable");
    EXPECT_NE(store.error().message.find("not a"), std::string::npos) << store.error().message;
}

TEST(SqliteFeedbackStore, DescribesItsFile) {
    const std::string location = test::SqliteBackend::fresh_location();
    Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(location);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ((*store)->describe(), "sqlite:" + location);
}

TEST(SqliteFeedbackStore, ADamagedFileIsRefusedWithTheReason) {
    const std::string location = test::SqliteBackend::fresh_location();
    {
        Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(location);
        ASSERT_TRUE(store) << store.error().message;
        for (int i = 0; i < 200; ++i) ASSERT_TRUE((*store)->add(submission("row " + std::to_string(i))));
    }  // closing the last connection checkpoints the log into the file
    ASSERT_GT(std::filesystem::file_size(location), 4u * 4096u);
    {
        // Garbage over the second page and after it: the header still says "SQLite format 3".
        std::fstream file(location, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(4096);
        const std::string garbage(8192, '\x5a');
        file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    Result<std::unique_ptr<FeedbackStore>> damaged = open_feedback_store(location);
    ASSERT_FALSE(damaged);
    EXPECT_EQ(damaged.error().code, "store_unavailable");
    EXPECT_NE(damaged.error().message.find(location), std::string::npos) << damaged.error().message;
    EXPECT_NE(damaged.error().message.find("damaged"), std::string::npos) << damaged.error().message;
}

TEST(PostgresFeedbackStore, DescriptionHidesThePassword) {
    if (const std::string reason = test::PostgresBackend::unavailable_reason(); !reason.empty())
        GTEST_SKIP() << reason;
    const std::string location = test::PostgresBackend::location_with_password("s3cret-pass");
    Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(location);
    ASSERT_TRUE(store) << store.error().message;
    const std::string shown = (*store)->describe();
    EXPECT_EQ(shown.find("s3cret-pass"), std::string::npos) << shown;
    EXPECT_NE(shown.find("postgresql://mimir@"), std::string::npos) << shown;
}

TEST(PostgresFeedbackStore, ConnectionsTheServerClosedAreReplacedWithoutWritingTwice) {
    if (const std::string reason = test::PostgresBackend::unavailable_reason(); !reason.empty())
        GTEST_SKIP() << reason;
    const std::string location = test::PostgresBackend::fresh_location();
    Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(location);
    ASSERT_TRUE(store) << store.error().message;
    Result<int64_t> first = (*store)->add(submission("before the restart"));
    ASSERT_TRUE(first);

    // A read goes again on a fresh connection.
    test::PostgresBackend::end_other_sessions(location);
    Result<FeedbackRecord> read = (*store)->get(*first);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->submission.prompt, "before the restart");

    // A write fails once (the caller may retry) and the broken connection is not used again.
    test::PostgresBackend::end_other_sessions(location);
    Result<int64_t> lost = (*store)->add(submission("refused"));
    ASSERT_FALSE(lost);
    EXPECT_EQ(lost.error().code, "store_unavailable");
    Result<int64_t> second = (*store)->add(submission("after the restart"));
    ASSERT_TRUE(second) << second.error().message;
    Result<std::vector<FeedbackRecord>> all = (*store)->list({});
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].submission.prompt, "after the restart");
}

TEST(PostgresFeedbackStore, AnUnreachableServerIsStoreUnavailable) {
    Result<std::unique_ptr<FeedbackStore>> store = open_feedback_store(
        "postgres://mimir:pw@/nowhere?host=/nonexistent-socket-dir&port=1&connect_timeout=2");
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, "store_unavailable");
    EXPECT_EQ(store.error().message.find("pw@"), std::string::npos) << store.error().message;
    EXPECT_NE(store.error().message.find("cannot connect"), std::string::npos) << store.error().message;
}

}  // namespace
}  // namespace mimir::data
