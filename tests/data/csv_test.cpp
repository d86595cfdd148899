#include "data/csv.h"

#include <gtest/gtest.h>

#include "support/test_models.h"

namespace mimir {
namespace {

TEST(Csv, ParsesQuotedCommasQuotesAndNewlines) {
    const std::string text =
        "prompt,ideal response\r\n"
        "\"Hi, there\",\"She said \"\"hello\"\"\"\r\n"
        "\"two\r\nlines\",plain\r\n";
    Result<CsvTable> table = parse_csv(text);
    ASSERT_TRUE(table.ok());
    ASSERT_EQ(table->header, (std::vector<std::string>{"prompt", "ideal response"}));
    ASSERT_EQ(table->records.size(), 2u);
    EXPECT_EQ(table->records[0].fields, (std::vector<std::string>{"Hi, there", "She said \"hello\""}));
    EXPECT_EQ(table->records[1].fields, (std::vector<std::string>{"two\nlines", "plain"}));
    EXPECT_EQ(table->records[0].line, 2);
    EXPECT_EQ(table->records[1].line, 3);
}

TEST(Csv, StripsByteOrderMarkAndSkipsBlankLines) {
    Result<CsvTable> table = parse_csv("\xEF\xBB\xBFPrompt,b\n\nx,y\n");
    ASSERT_TRUE(table.ok());
    EXPECT_EQ(table->header[0], "Prompt");
    ASSERT_EQ(table->records.size(), 1u);
    EXPECT_EQ(table->records[0].line, 3);
}

TEST(Csv, KeepsEmptyTrailingFieldsAndHandlesNoFinalNewline) {
    Result<CsvTable> table = parse_csv("a,b,c\n1,,\n\"q\",2,3");
    ASSERT_TRUE(table.ok());
    ASSERT_EQ(table->records.size(), 2u);
    EXPECT_EQ(table->records[0].fields, (std::vector<std::string>{"1", "", ""}));
    EXPECT_EQ(table->records[1].fields, (std::vector<std::string>{"q", "2", "3"}));
}

TEST(Csv, BadQuotingMarksOnlyThatRecord) {
    Result<CsvTable> table = parse_csv("a,b\nok,1\nbro\"ken,2\n\"closed\"junk,3\nfine,4\n");
    ASSERT_TRUE(table.ok());
    ASSERT_EQ(table->records.size(), 4u);
    EXPECT_TRUE(table->records[0].error.empty());
    EXPECT_NE(table->records[1].error.find("stray quote"), std::string::npos);
    EXPECT_NE(table->records[2].error.find("after a closing quote"), std::string::npos);
    EXPECT_TRUE(table->records[3].error.empty());
    EXPECT_EQ(table->records[3].fields[0], "fine");
    EXPECT_EQ(table->records[3].line, 5);
}

TEST(Csv, UnterminatedQuoteIsReportedWithItsLine) {
    Result<CsvTable> table = parse_csv("a,b\nx,\"never closed\nmore\n");
    ASSERT_TRUE(table.ok());
    ASSERT_EQ(table->records.size(), 1u);
    EXPECT_NE(table->records[0].error.find("line 2"), std::string::npos) << table->records[0].error;
}

TEST(Csv, EmptyTextHasNoHeader) {
    Result<CsvTable> table = parse_csv("");
    ASSERT_FALSE(table.ok());
    EXPECT_EQ(table.error().code, "empty_csv");
    EXPECT_FALSE(parse_csv("\xEF\xBB\xBF\n\n").ok());
}

TEST(Csv, MissingFileAndDirectoryAreErrors) {
    Result<CsvTable> missing = read_csv_file("/nonexistent/file.csv");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, "not_found");
    Result<CsvTable> dir = read_csv_file("/tmp");
    ASSERT_FALSE(dir.ok());
    EXPECT_EQ(dir.error().code, "not_a_file");
}

TEST(Csv, FormatQuotesOnlyWhatNeedsIt) {
    EXPECT_EQ(format_csv_record({"plain", "a,b", "say \"hi\"", "two\nlines", " padded", ""}),
              "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" padded\",\n");
}

TEST(Csv, WrittenFileReadsBackFieldForField) {
    const std::vector<std::string> header = {"Prompt", "Ideal Response"};
    const std::vector<std::vector<std::string>> records = {
        {"Hello, Mimir!", "She said \"\"quoted\"\" twice"},
        {"line one\nline two\n", "emoji \xF0\x9F\x98\x80 and a trailing space "},
        {"", "\"starts with a quote"},
    };
    const std::string path = test::scratch_dir() + "/round_trip.csv";
    ASSERT_TRUE(write_csv_file(path, header, records).ok());
    Result<CsvTable> table = read_csv_file(path);
    ASSERT_TRUE(table.ok()) << table.error().message;
    EXPECT_EQ(table->header, header);
    ASSERT_EQ(table->records.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        EXPECT_TRUE(table->records[i].error.empty()) << table->records[i].error;
        EXPECT_EQ(table->records[i].fields, records[i]) << "record " << i;
    }
}

TEST(Csv, SpreadsheetEscapeCoversEveryFormulaStartAndIsUndoneExactly) {
    for (const char* cell : {"=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "'=1", "''-x"}) {
        EXPECT_TRUE(needs_spreadsheet_escape(cell)) << cell;
        EXPECT_EQ(escape_spreadsheet_cell(cell), std::string("'") + cell);
        EXPECT_EQ(unescape_spreadsheet_cell(escape_spreadsheet_cell(cell)), cell);
    }
    for (const char* cell : {"", "plain", "a=b", "'quoted'", "'", "''", " -padded"}) {
        EXPECT_FALSE(needs_spreadsheet_escape(cell)) << cell;
        EXPECT_EQ(escape_spreadsheet_cell(cell), cell);
        EXPECT_EQ(unescape_spreadsheet_cell(cell), cell);
    }
}

TEST(Csv, SpreadsheetSafeRecordsQuoteEscapedCellsAndSemicolons) {
    EXPECT_EQ(format_csv_record({"=1+1", "a;b", "plain"}, CsvCells::spreadsheet_safe),
              "\"'=1+1\",\"a;b\",plain\n");
    EXPECT_EQ(format_csv_record({"=1+1", "a;b"}), "=1+1,a;b\n");
}

TEST(Csv, WritingToAMissingDirectoryFails) {
    Status written = write_csv_file("/nonexistent/dir/out.csv", {"a"}, {});
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.error().code, "write_failed");
    EXPECT_NE(written.error().message.find("/nonexistent/dir/out.csv"), std::string::npos);
}

}  // namespace
}  // namespace mimir
