#include "data/fine_tuning_data.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include "data/csv.h"
#include "support/system.h"

namespace mimir {

namespace {

std::string normalized_column(const std::string& name) {
    std::string out;
    for (char c : name) {
        if (c == '_' || c == '-') c = ' ';
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    const size_t first = out.find_first_not_of(' ');
    const size_t last = out.find_last_not_of(' ');
    return first == std::string::npos ? std::string() : out.substr(first, last - first + 1);
}

std::string trimmed(const std::string& text) {
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

bool is_blank(const std::string& text) {
    return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
}

struct ColumnIndex {
    std::optional<size_t> prompt, model_response, issues, ideal_response, category;
};

ColumnIndex find_columns(const std::vector<std::string>& header) {
    ColumnIndex index;
    for (size_t i = 0; i < header.size(); ++i) {
        const std::string name = normalized_column(header[i]);
        if (name == "prompt" && !index.prompt) index.prompt = i;
        if (name == "model response" && !index.model_response) index.model_response = i;
        if (name == "issues" && !index.issues) index.issues = i;
        if (name == "ideal response" && !index.ideal_response) index.ideal_response = i;
        if (name == "category" && !index.category) index.category = i;
    }
    return index;
}

// The writer escapes cells that a spreadsheet would run as formulas; readers get the text as written.
std::string field_or_empty(const CsvRecord& record, std::optional<size_t> column) {
    return column && *column < record.fields.size() ? unescape_spreadsheet_cell(record.fields[*column])
                                                    : std::string();
}

std::string joined_header(const std::vector<std::string>& header) {
    std::string out;
    for (const auto& name : header) out += (out.empty() ? "\"" : ", \"") + name + "\"";
    return out;
}

}  // namespace

Result<FineTuningData> parse_fine_tuning_csv(const std::string& text, const std::string& source) {
    Result<CsvTable> table = parse_csv(text);
    if (!table)
        return Result<FineTuningData>::failure(table.error().code, source + ": " + table.error().message);
    const ColumnIndex columns = find_columns(table->header);
    if (!columns.prompt || !columns.ideal_response) {
        return Result<FineTuningData>::failure(
            "wrong_columns", source + ": needs columns \"prompt\" and \"ideal response\" (found " +
                                 joined_header(table->header) + ")");
    }
    FineTuningData data;
    data.has_category_column = columns.category.has_value();
    int row_number = 0;
    for (const CsvRecord& record : table->records) {
        ++row_number;
        auto problem = [&](std::string reason) {
            data.problems.push_back({row_number, record.line, std::move(reason)});
        };
        if (!record.error.empty()) {
            problem("unparseable quoting: " + record.error);
            continue;
        }
        FineTuningRow row{.row_number = row_number,
                          .line = record.line,
                          .prompt = field_or_empty(record, columns.prompt),
                          .model_response = field_or_empty(record, columns.model_response),
                          .issues = field_or_empty(record, columns.issues),
                          .ideal_response = field_or_empty(record, columns.ideal_response),
                          .category = trimmed(field_or_empty(record, columns.category))};
        if (is_blank(row.prompt)) {
            problem("missing prompt");
        } else if (is_blank(row.ideal_response)) {
            problem("missing ideal response");
        } else {
            data.rows.push_back(std::move(row));
        }
    }
    if (data.rows.empty()) {
        return Result<FineTuningData>::failure(
            "no_rows", source + ": no usable rows (" + std::to_string(data.problems.size()) + " skipped)");
    }
    return data;
}

Result<FineTuningData> read_fine_tuning_csv(const std::string& path) {
    Result<std::string> text = read_text_file(path);
    if (!text) return Result<FineTuningData>::failure(text.error().code, text.error().message);
    return parse_fine_tuning_csv(*text, path);
}

std::string describe(const RowProblem& problem) {
    return "row " + std::to_string(problem.row_number) + " (line " + std::to_string(problem.line) +
           "): " + problem.reason;
}

Status write_fine_tuning_csv(const std::string& path, const std::vector<FineTuningRow>& rows,
                             bool with_category) {
    std::vector<std::string> header = {"Prompt", "Model Response", "Issues", "Ideal Response"};
    if (with_category) header.push_back("Category");
    std::vector<std::vector<std::string>> records;
    records.reserve(rows.size());
    for (const FineTuningRow& row : rows) {
        records.push_back({row.prompt, row.model_response, row.issues, row.ideal_response});
        if (with_category) records.back().push_back(row.category);
    }
    return write_csv_file(path, header, records, CsvCells::spreadsheet_safe);
}

void seeded_shuffle(std::vector<size_t>& items, uint64_t seed) {
    SplitMix64 random(seed);
    for (size_t i = items.size(); i > 1; --i) {
        const size_t j = static_cast<size_t>(random.next() % i);
        std::swap(items[i - 1], items[j]);
    }
}

TrainEvalSplit split_train_eval(size_t n, double eval_fraction, uint64_t seed) {
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    seeded_shuffle(order, seed);
    size_t n_eval = static_cast<size_t>(std::lround(static_cast<double>(n) * eval_fraction));
    if (eval_fraction > 0 && n >= 2) n_eval = std::max<size_t>(n_eval, 1);
    n_eval = std::min(n_eval, n > 0 ? n - 1 : 0);
    TrainEvalSplit split;
    split.eval.assign(order.begin(), order.begin() + static_cast<long>(n_eval));
    split.train.assign(order.begin() + static_cast<long>(n_eval), order.end());
    return split;
}

}  // namespace mimir
