// RFC 4180 CSV as Google Sheets exports it: UTF-8 with or without a byte-order mark, fields quoted when
// they hold commas, quotes ("" inside quotes) or newlines, CRLF or LF line ends.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "support/files.h"
#include "support/result.h"

namespace mimir {

// One record of the file. `line` is the 1-based line its first field starts on, for error messages;
// `error` is set (and `fields` partial) when the record's quoting could not be parsed.
struct CsvRecord {
    int line = 0;
    std::vector<std::string> fields;
    std::string error;
};

// The first record of a file is its header; the rest are data records in file order.
struct CsvTable {
    std::vector<std::string> header;
    std::vector<CsvRecord> records;
};

// Parses `text`. A record with broken quoting (a stray quote inside an unquoted field, text after a
// closing quote) is kept with `error` set and parsing resumes at the next line, so one bad row costs
// only itself. An unterminated quote swallows the rest of the file: that record carries the error.
// Fails ("empty_csv") only when there is no header at all.
Result<CsvTable> parse_csv(std::string_view text);

// Reads `path` and parses it; "not_found" / "read_failed" name the file.
Result<CsvTable> read_csv_file(const std::string& path);

// Spreadsheet formula injection (OWASP "CSV Injection"): Google Sheets and Excel run a cell that starts with
// `=`, `+`, `-` or `@` (also after a tab or CR) as a formula. The escape is OWASP's: a single quote before
// such a cell. Cells that already start with quotes followed by one of those characters get one more quote,
// so unescape_spreadsheet_cell(escape_spreadsheet_cell(x)) == x for every x and nothing is lost.
bool needs_spreadsheet_escape(std::string_view cell);
std::string escape_spreadsheet_cell(std::string_view cell);
// Removes the one quote escape_spreadsheet_cell added; other text is returned as it is.
std::string unescape_spreadsheet_cell(std::string_view cell);

// How fields are written: as needed (RFC 4180), or safe to open in a spreadsheet (every cell escaped as
// above, and escaped cells and cells holding ';' quoted, so a locale that splits on ';' cannot cut a
// formula out of the middle of a cell).
enum class CsvCells { as_is, spreadsheet_safe };

// One record as parse_csv reads it back, ending in "\n": a field is quoted when it holds a comma, a quote
// (doubled inside), a line end, or leading or trailing spaces.
std::string format_csv_record(const std::vector<std::string>& fields, CsvCells cells = CsvCells::as_is);

// Writes the header and records to `path` atomically (UTF-8, LF line ends, no byte-order mark);
// "write_failed" names the file.
Status write_csv_file(const std::string& path, const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& records, CsvCells cells = CsvCells::as_is);

}  // namespace mimir
