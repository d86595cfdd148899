#include "eval/suite.h"

#include <re2/re2.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "data/csv.h"
#include "data/fine_tuning_data.h"
#include "eval/checks.h"

namespace mimir::eval {

std::vector<ChatMessage> EvalCase::conversation() const {
    std::vector<ChatMessage> messages = history;
    messages.push_back({"user", prompt});
    return messages;
}

namespace {

using nlohmann::json;

Error line_error(const std::string& source, int line, const std::string& what) {
    return Error{"invalid_suite", source + " line " + std::to_string(line) + ": " + what};
}

// Reads `object[key]` into `out` when present; a wrong type is an error naming the field.
template <typename T>
std::optional<std::string> read_field(const json& object, const char* key, T& out, const char* expected) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return std::nullopt;
    try {
        out = it->get<T>();
    } catch (const json::exception&) {
        return std::string("field \"") + key + "\" must be " + expected;
    }
    return std::nullopt;
}

Result<std::vector<ChatMessage>> read_history(const json& object) {
    auto it = object.find("history");
    if (it == object.end() || it->is_null()) return std::vector<ChatMessage>{};
    if (!it->is_array()) return Error{"", "field \"history\" must be an array of {\"role\", \"content\"}"};
    std::vector<ChatMessage> history;
    for (const json& turn : *it) {
        if (!turn.is_object() || !turn.contains("role") || !turn.contains("content") ||
            !turn["role"].is_string() || !turn["content"].is_string()) {
            return Error{"", "field \"history\" must be an array of {\"role\", \"content\"} strings"};
        }
        const std::string role = turn["role"];
        if (role != "user" && role != "assistant" && role != "system") {
            return Error{"", "history role \"" + role + "\" must be user, assistant or system"};
        }
        history.push_back({role, turn["content"]});
    }
    return history;
}

Result<EvalCase> parse_case(const json& object) {
    static const std::set<std::string> known = {"id",         "category",     "prompt",   "history",
                                                "expect_any", "expect_regex", "must_not", "word_budget",
                                                "homework",   "answer",       "reference"};
    if (!object.is_object()) return Error{"", "expected a JSON object"};
    for (const auto& [key, value] : object.items()) {
        if (!known.contains(key)) return Error{"", "unknown field \"" + key + "\""};
    }
    EvalCase c;
    int budget = 0;
    for (auto problem :
         {read_field(object, "id", c.id, "a string"), read_field(object, "category", c.category, "a string"),
          read_field(object, "prompt", c.prompt, "a string"),
          read_field(object, "expect_any", c.expect_any, "an array of strings"),
          read_field(object, "expect_regex", c.expect_regex, "a string"),
          read_field(object, "must_not", c.must_not, "an array of strings"),
          read_field(object, "homework", c.homework, "true or false"),
          read_field(object, "answer", c.answer, "a string"),
          read_field(object, "reference", c.reference, "a string")}) {
        if (problem) return Error{"", *problem};
    }
    if (object.contains("word_budget") && !object["word_budget"].is_null()) {
        if (!object["word_budget"].is_number_integer() || (budget = object["word_budget"].get<int>()) <= 0) {
            return Error{"", "field \"word_budget\" must be a positive integer"};
        }
        c.word_budget = budget;
    }
    if (c.prompt.empty()) return Error{"", "missing prompt"};
    auto history = read_history(object);
    if (!history) return history.error();
    c.history = std::move(*history);
    if (!c.expect_regex.empty()) {
        const RE2 pattern("(?i)" + c.expect_regex, RE2::Quiet);
        if (!pattern.ok()) return Error{"", "invalid expect_regex: " + pattern.error()};
    }
    if (c.category.empty()) c.category = "general";
    return c;
}

// The standalone checks, plus chrF against the ideal response (reported only).
std::vector<std::string> csv_case_checks() {
    std::vector<std::string> names = standalone_check_names();
    names.push_back("similarity.reference");
    return names;
}

}  // namespace

Result<Suite> parse_suite(const std::string& text, const std::string& source) {
    Suite suite{.source = source};
    std::set<std::string> ids;
    std::istringstream in(text);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos || line[line.find_first_not_of(" \t")] == '#')
            continue;
        json object = json::parse(line, nullptr, false);
        if (object.is_discarded()) return line_error(source, number, "malformed JSON");
        auto parsed = parse_case(object);
        if (!parsed) return line_error(source, number, parsed.error().message);
        parsed->line = number;
        if (parsed->id.empty()) parsed->id = "line-" + std::to_string(number);
        if (!ids.insert(parsed->id).second)
            return line_error(source, number, "duplicate id \"" + parsed->id + "\"");
        suite.cases.push_back(std::move(*parsed));
    }
    if (suite.cases.empty()) return Error{"invalid_suite", source + ": no cases"};
    return suite;
}

Result<Suite> read_suite(const std::string& path) {
    auto text = read_text_file(path);
    if (!text) return text.error();
    return parse_suite(*text, path);
}

Result<Suite> suite_from_csv(const std::string& csv_path) {
    auto data = read_fine_tuning_csv(csv_path);
    if (!data) return data.error();
    // The category column is optional and not part of FineTuningRow: look it up by the row's line.
    std::map<int, std::string> category_by_line;
    if (auto table = read_csv_file(csv_path)) {
        for (size_t column = 0; column < table->header.size(); ++column) {
            if (to_lower_ascii(table->header[column]) != "category") continue;
            for (const CsvRecord& record : table->records) {
                if (column < record.fields.size()) category_by_line[record.line] = record.fields[column];
            }
        }
    }
    Suite suite{.source = csv_path};
    for (const FineTuningRow& row : data->rows) {
        const std::string category = category_by_line[row.line];
        suite.cases.push_back(EvalCase{.id = "row-" + std::to_string(row.row_number),
                                       .category = category.empty() ? "general" : category,
                                       .prompt = row.prompt,
                                       .homework = looks_like_homework_request(row.prompt),
                                       .reference = row.ideal_response,
                                       .checks = csv_case_checks()});
    }
    return suite;
}

}  // namespace mimir::eval
