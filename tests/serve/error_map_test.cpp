// Every error code a client can meet, walked through the one error map: each must land on a row of the
// error table in docs/api.md with the same status and type.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "model/engine.h"
#include "model/model_manager.h"
#include "serve/http_common.h"

namespace mimir::serve {
namespace {

// docs/api.md's error table: wire code -> (status, type).
std::map<std::string, std::pair<int, std::string>> documented_errors() {
    std::ifstream file(std::string(MIMIR_TEST_SOURCE_DIR) + "/docs/api.md");
    EXPECT_TRUE(file) << "docs/api.md not found";
    std::map<std::string, std::pair<int, std::string>> table;
    std::string line;
    bool in_errors = false;
    while (std::getline(file, line)) {
        if (line.starts_with("## ")) in_errors = line == "## Errors";
        if (!in_errors || !line.starts_with("| ") || line.size() < 5 || !std::isdigit(line[2])) continue;
        // | status | `type` | `code`, `code` | when |
        std::vector<std::string> cells;
        std::stringstream row(line.substr(1));
        std::string cell;
        while (std::getline(row, cell, '|')) cells.push_back(cell);
        if (cells.size() < 3) continue;
        const int status = std::stoi(cells[0]);
        auto ticked = [](const std::string& text) {
            std::vector<std::string> out;
            for (size_t open = text.find('`'); open != std::string::npos; open = text.find('`', open + 1)) {
                const size_t close = text.find('`', open + 1);
                if (close == std::string::npos) break;
                out.push_back(text.substr(open + 1, close - open - 1));
                open = close;
            }
            return out;
        };
        const std::vector<std::string> type = ticked(cells[1]);
        if (type.size() != 1) continue;
        for (const std::string& code : ticked(cells[2])) table[code] = {status, type[0]};
    }
    return table;
}

void expect_documented(std::string_view code,
                       const std::map<std::string, std::pair<int, std::string>>& table) {
    const HttpError http = http_error_for(code);
    auto row = table.find(std::string(http.code));
    ASSERT_NE(row, table.end()) << code << " goes out as `" << http.code
                                << "`, which the error table of docs/api.md does not list";
    EXPECT_EQ(row->second.first, http.status) << code;
    EXPECT_EQ(row->second.second, http.type) << code;
}

TEST(ErrorMap, EveryEngineAndModelLoadCodeIsDocumented) {
    const auto table = documented_errors();
    ASSERT_GT(table.size(), 10u) << "the error table of docs/api.md was not found";
    for (std::string_view code : kEngineErrorCodes) expect_documented(code, table);
    for (std::string_view code : kModelLoadErrorCodes) expect_documented(code, table);
}

TEST(ErrorMap, EveryCodeTheServerSendsIsDocumented) {
    const auto table = documented_errors();
    for (std::string_view code :
         {"invalid_request", "invalid_path",       "bad_request",     "invalid_api_key",   "reload_disabled",
          "not_found",       "method_not_allowed", "request_timeout", "request_too_large", "uri_too_long",
          "reload_failed",   "rate_limited",       "server_busy",     "model_not_loaded",  "model_loading",
          "internal_error",  "invalid_feedback",   "review_disabled", "store_unavailable", "write_failed"})
        expect_documented(code, table);
}

TEST(ErrorMap, EngineCodesGetTheirOpenAiNames) {
    EXPECT_EQ(http_error_for("context_exceeded").code, "context_length_exceeded");
    EXPECT_EQ(http_error_for("context_exceeded").status, 400);
    EXPECT_EQ(http_error_for("busy").code, "server_busy");
    EXPECT_EQ(http_error_for("busy").status, 429);
    EXPECT_EQ(http_error_for("shutting_down").status, 503);
    // An unknown code is a server error that keeps its name, so the documentation check above notices it.
    const HttpError unknown = http_error_for("something_new");
    EXPECT_EQ(unknown.status, 500);
    EXPECT_EQ(unknown.code, "something_new");
    EXPECT_EQ(unknown.type, "server_error");
}

}  // namespace
}  // namespace mimir::serve
