#include "data/csv.h"

namespace mimir {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Walks the text one record at a time; keeps the line counter that error messages refer to.
class CsvScanner {
  public:
    explicit CsvScanner(std::string_view text) : text_(text) {}

    bool done() const { return pos_ >= text_.size(); }

    CsvRecord next_record() {
        CsvRecord record;
        record.line = line_;
        std::string field;
        while (true) {
            if (!read_field(field, record)) {
                skip_rest_of_line();
                record.fields.push_back(std::move(field));
                return record;
            }
            record.fields.push_back(std::move(field));
            field.clear();
            if (done()) return record;
            const char c = text_[pos_];
            if (c == ',') {
                ++pos_;
                continue;
            }
            consume_line_end();
            return record;
        }
    }

  private:
    // Reads one field, leaving pos_ on the delimiter (',' or line end) that follows it. Returns false
    // (with record.error set) when the quoting is broken.
    bool read_field(std::string& field, CsvRecord& record) {
        if (!done() && text_[pos_] == '"') return read_quoted(field, record);
        while (!done()) {
            const char c = text_[pos_];
            if (c == ',' || c == '\n' || c == '\r') return true;
            if (c == '"') {
                record.error = "stray quote inside an unquoted field on line " + std::to_string(line_);
                return false;
            }
            field.push_back(c);
            ++pos_;
        }
        return true;
    }

    bool read_quoted(std::string& field, CsvRecord& record) {
        const int opened_on = line_;
        ++pos_;  // opening quote
        while (!done()) {
            const char c = text_[pos_];
            if (c == '"') {
                if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
                    field.push_back('"');
                    pos_ += 2;
                    continue;
                }
                ++pos_;  // closing quote
                if (done() || text_[pos_] == ',' || text_[pos_] == '\n' || text_[pos_] == '\r') return true;
                record.error = "text after a closing quote on line " + std::to_string(line_);
                return false;
            }
            if (c == '\n') ++line_;
            // Line ends inside a field are kept as '\n' whatever the file used.
            if (c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') {
                ++pos_;
                continue;
            }
            field.push_back(c);
            ++pos_;
        }
        record.error = "quote opened on line " + std::to_string(opened_on) + " is never closed";
        return false;
    }

    void consume_line_end() {
        if (!done() && text_[pos_] == '\r') ++pos_;
        if (!done() && text_[pos_] == '\n') ++pos_;
        ++line_;
    }

    void skip_rest_of_line() {
        while (!done() && text_[pos_] != '\n') ++pos_;
        if (!done()) ++pos_;
        ++line_;
    }

    std::string_view text_;
    size_t pos_ = 0;
    int line_ = 1;
};

bool is_blank(const CsvRecord& record) {
    return record.error.empty() && record.fields.size() == 1 && record.fields[0].empty();
}

}  // namespace

Result<CsvTable> parse_csv(std::string_view text) {
    if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
    CsvScanner scanner(text);
    CsvTable table;
    bool have_header = false;
    while (!scanner.done()) {
        CsvRecord record = scanner.next_record();
        if (is_blank(record)) continue;
        if (!have_header) {
            if (!record.error.empty())
                return Result<CsvTable>::failure("bad_header", "header: " + record.error);
            table.header = std::move(record.fields);
            have_header = true;
            continue;
        }
        table.records.push_back(std::move(record));
    }
    if (!have_header) return Result<CsvTable>::failure("empty_csv", "the file has no header row");
    return table;
}

Result<CsvTable> read_csv_file(const std::string& path) {
    Result<std::string> text = read_text_file(path);
    if (!text) return Result<CsvTable>::failure(text.error().code, text.error().message);
    Result<CsvTable> table = parse_csv(*text);
    if (!table) return Result<CsvTable>::failure(table.error().code, path + ": " + table.error().message);
    return table;
}

bool needs_spreadsheet_escape(std::string_view cell) {
    const size_t first = cell.find_first_not_of('\'');
    return first != std::string_view::npos &&
           std::string_view("=+-@\t\r").find(cell[first]) != std::string_view::npos;
}

std::string escape_spreadsheet_cell(std::string_view cell) {
    std::string out;
    out.reserve(cell.size() + 1);
    if (needs_spreadsheet_escape(cell)) out.push_back('\'');
    out.append(cell);
    return out;
}

std::string unescape_spreadsheet_cell(std::string_view cell) {
    const bool escaped = !cell.empty() && cell.front() == '\'' && needs_spreadsheet_escape(cell);
    return std::string(escaped ? cell.substr(1) : cell);
}

namespace {

bool needs_quotes(std::string_view field, CsvCells cells) {
    if (!field.empty() && (field.front() == ' ' || field.back() == ' ')) return true;
    if (field.find_first_of(",\"\r\n") != std::string_view::npos) return true;
    return cells == CsvCells::spreadsheet_safe &&
           (field.find(';') != std::string_view::npos || needs_spreadsheet_escape(field));
}

}  // namespace

std::string format_csv_record(const std::vector<std::string>& fields, CsvCells cells) {
    std::string line;
    for (size_t i = 0; i < fields.size(); ++i) {
        const std::string field =
            cells == CsvCells::spreadsheet_safe ? escape_spreadsheet_cell(fields[i]) : fields[i];
        if (i > 0) line.push_back(',');
        if (!needs_quotes(field, cells)) {
            line += field;
            continue;
        }
        line.push_back('"');
        for (char c : field) {
            if (c == '"') line.push_back('"');
            line.push_back(c);
        }
        line.push_back('"');
    }
    line.push_back('\n');
    return line;
}

Status write_csv_file(const std::string& path, const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& records, CsvCells cells) {
    std::string text = format_csv_record(header, cells);
    for (const auto& record : records) text += format_csv_record(record, cells);
    return write_text_atomically(path, text);
}

}  // namespace mimir
