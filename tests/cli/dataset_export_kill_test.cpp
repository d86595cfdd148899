// kill -9 in the middle of `mimir dataset export`: the output is the old file or the complete new one,
// never a part of one. The export runs as its own process on a large store and is killed at points spread
// over a whole run (reading the store, planning, writing).
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "data/feedback_store.h"
#include "support/test_models.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

constexpr int kStoreRows = 50000;
constexpr int kSpreadKills = 6;  // at points spread over a whole run
constexpr int kWriteKills = 6;   // once the output's temp file exists

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The atomic writer's temp files (support/files.h) for out.csv.
bool has_temp_file(const std::string& dir) {
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename().string().rfind("out.csv.tmp-", 0) == 0) return true;
    }
    return false;
}

void remove_temp_files(const std::string& dir) {
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename().string().rfind("out.csv.tmp-", 0) == 0) fs::remove(entry.path());
    }
}

// Polls until the export `pid` has started writing its output; false (with its exit `status`) when it ended
// first.
bool wait_for_temp_file(const std::string& dir, pid_t pid, int& status) {
    while (!has_temp_file(dir)) {
        if (waitpid(pid, &status, WNOHANG) == pid) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return true;
}

// Starts `mimir dataset export` with its output sent to /dev/null; returns its pid.
pid_t start_export(const std::string& store, const std::string& out) {
    const pid_t pid = fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        // --all: the rows are pending (one commit each to add them, not two).
        execl(MIMIR_BINARY, MIMIR_BINARY, "dataset", "export", "--data", store.c_str(), "--out", out.c_str(),
              "--all", static_cast<char*>(nullptr));
        _exit(127);
    }
    return pid;
}

// One row through the store, then copies of it with distinct prompts in one SQLite transaction: a durable
// commit per row, as add() makes, would take minutes here and is not what this test is about. Only the
// columns id, prompt and ideal_response are named; the others are copied as the store wrote them.
void fill_store(const std::string& location) {
    {
        Result<std::unique_ptr<data::FeedbackStore>> store = data::open_feedback_store(location);
        ASSERT_TRUE(store.ok()) << store.error().message;
        Result<int64_t> id = (*store)->add(
            data::FeedbackSubmission{.prompt = "template",
                                     .model_response = "Easy!!! The answer is 12 :)",
                                     .issues = {"Tone", "Gives the Answer Away"},
                                     .notes = "=HYPERLINK(\"http://example.com\") and an emoticon",
                                     .ideal_response = "template",
                                     .rating = data::Rating::down});
        ASSERT_TRUE(id.ok()) << id.error().message;
    }
    SQLite::Database db(location, SQLite::OPEN_READWRITE);
    std::string columns, values;
    SQLite::Statement info(db, "PRAGMA table_info(feedback)");
    while (info.executeStep()) {
        const std::string name = info.getColumn(1).getString();
        if (name == "id") continue;
        columns += (columns.empty() ? "" : ", ") + name;
        const std::string value = name == "prompt"
                                      ? "'Student ' || n || ' asks: how many apples are in basket ' || n || "
                                        "' if it holds ' || (n * 7 % 101) || ' pears?'"
                                  : name == "ideal_response"
                                      ? "'- Let''s count together: how many pears are in basket ' || n || '?'"
                                      : name;
        values += (values.empty() ? "" : ", ") + value;
    }
    SQLite::Transaction transaction(db);
    db.exec("WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter WHERE n < " +
            std::to_string(kStoreRows) + ") INSERT INTO feedback (" + columns + ") SELECT " + values +
            " FROM feedback, counter WHERE feedback.id = 1");
    db.exec("DELETE FROM feedback WHERE id = 1");
    transaction.commit();
}

TEST(DatasetExportKill, AKilledExportLeavesTheOldFileOrTheCompleteNewOne) {
    const std::string dir = test::scratch_dir();
    const std::string store = dir + "/feedback.db";
    fill_store(store);
    if (HasFatalFailure()) return;

    // One whole run gives the complete output and how long a run takes, to spread the kills over.
    const std::string reference = dir + "/reference.csv";
    const auto started = std::chrono::steady_clock::now();
    int status = 0;
    waitpid(start_export(store, reference), &status, 0);
    const auto run_time = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the unkilled export failed";
    const std::string complete = read_all(reference);
    ASSERT_GT(complete.size(), static_cast<size_t>(kStoreRows) * 50);

    const std::string out = dir + "/out.csv";
    const std::string old_contents = "Prompt,Ideal Response\nthe old file,stays whole\n";
    int killed_running = 0, killed_writing = 0;
    for (int i = 0; i < kSpreadKills + kWriteKills; ++i) {
        remove_temp_files(dir);
        std::ofstream(out, std::ios::binary | std::ios::trunc) << old_contents;
        const pid_t pid = start_export(store, out);
        bool ended = false;
        if (i < kSpreadKills) {
            std::this_thread::sleep_for(run_time * (i + 0.5) / kSpreadKills);
        } else if (wait_for_temp_file(dir, pid, status)) {
            // The output is being written: kill at once, then a little later each time.
            std::this_thread::sleep_for(std::chrono::milliseconds(i - kSpreadKills) * 5);
        } else {
            ended = true;
        }
        if (!ended) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        const std::string after = read_all(out);
        if (WIFSIGNALED(status)) ++killed_running;
        if (WIFSIGNALED(status) && has_temp_file(dir) && after == old_contents) ++killed_writing;
        if (after != old_contents) {
            ASSERT_EQ(after.size(), complete.size()) << "kill " << i << " left a partial file";
            ASSERT_TRUE(after == complete) << "kill " << i << " left a file that is neither old nor complete";
        }
    }
    std::printf("%d kills: %d while running, %d of them while the new file was being written\n",
                kSpreadKills + kWriteKills, killed_running, killed_writing);
    // Else this test would show nothing: kills spread over a run's length land while it runs, and a kill as
    // soon as the temp file appears lands while the output is being written.
    EXPECT_GT(killed_running, 0);
    EXPECT_GT(killed_writing, 0);

    // A killed export can leave its temp file (nothing runs after SIGKILL), never a damaged output; the next
    // export replaces the output as usual.
    waitpid(start_export(store, out), &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_TRUE(read_all(out) == complete);
}

}  // namespace
}  // namespace mimir
