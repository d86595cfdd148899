// The incremental UTF-8 decoder and the stop-string filter: the two things between token bytes and the
// text a student sees.
#include "model/utf8_stream.h"

#include <gtest/gtest.h>

#include "model/stop_strings.h"

namespace mimir {
namespace {

const std::string kFffd(kReplacementCharacter);

TEST(Utf8Stream, PassesAsciiAndWholeCharactersThrough) {
    Utf8Stream stream;
    EXPECT_EQ(stream.push("Hello "), "Hello ");
    EXPECT_EQ(stream.push("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
              "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    EXPECT_FALSE(stream.has_pending());
    EXPECT_EQ(stream.finish(), "");
}

TEST(Utf8Stream, SplitMultibyteCharacterWaitsForTheRest) {
    Utf8Stream stream;
    // U+1F600 as four separate one-byte pieces, as byte tokens arrive.
    EXPECT_EQ(stream.push("a\xF0"), "a");
    EXPECT_TRUE(stream.has_pending());
    EXPECT_EQ(stream.push("\x9F"), "");
    EXPECT_EQ(stream.push("\x98"), "");
    EXPECT_EQ(stream.push("\x80z"), "\xF0\x9F\x98\x80z");
    EXPECT_FALSE(stream.has_pending());
}

TEST(Utf8Stream, ThreeByteCharacterSplitTwoWays) {
    Utf8Stream first;
    EXPECT_EQ(first.push("\xE2\x82"), "");
    EXPECT_EQ(first.push("\xAC"), "\xE2\x82\xAC");
    Utf8Stream second;
    EXPECT_EQ(second.push("\xE2"), "");
    EXPECT_EQ(second.push("\x82\xAC!"), "\xE2\x82\xAC!");
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementCharacters) {
    Utf8Stream stream;
    EXPECT_EQ(stream.push("a\xFF"
                          "b"),
              "a" + kFffd + "b");
    EXPECT_EQ(stream.push("\x80"), kFffd);  // stray continuation byte
    EXPECT_EQ(stream.push("\xC3"
                          "A"),
              kFffd + "A");  // lead byte followed by a non-continuation
    EXPECT_EQ(stream.push("\xED\xA0\x80"), kFffd + kFffd + kFffd);              // UTF-16 surrogate U+D800
    EXPECT_EQ(stream.push("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // above U+10FFFF
}

TEST(Utf8Stream, OverlongEncodingsAreRejected) {
    Utf8Stream stream;
    const std::string out = stream.push(
        "\xC0\xAF"
        "x\xE0\x80\xAF"
        "y\xF0\x80\x80\xAF");  // '/' three overlong ways
    EXPECT_TRUE(is_valid_utf8(out));
    EXPECT_EQ(out.find('/'), std::string::npos);
    EXPECT_NE(out.find(kFffd + "x"), std::string::npos);
    EXPECT_NE(out.find("y" + kFffd), std::string::npos);
}

TEST(Utf8Stream, UnfinishedCharacterAtTheEndIsReplacedByFinish) {
    Utf8Stream stream;
    EXPECT_EQ(stream.push("ok\xE2\x82"), "ok");
    EXPECT_EQ(stream.finish(), kFffd);
    EXPECT_FALSE(stream.has_pending());
    EXPECT_EQ(stream.push("again"), "again");
}

TEST(Utf8Stream, AnyByteSequenceGivesValidText) {
    // Every byte value, fed one byte at a time and in pairs: the output must stay valid UTF-8.
    std::string all;
    for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
    for (size_t step : {size_t{1}, size_t{2}, size_t{3}}) {
        Utf8Stream stream;
        std::string out;
        for (size_t i = 0; i < all.size(); i += step) out += stream.push(all.substr(i, step));
        out += stream.finish();
        EXPECT_TRUE(is_valid_utf8(out)) << "step " << step;
        EXPECT_EQ(out.substr(0, 128), all.substr(0, 128));  // ASCII survives untouched
    }
}

TEST(StopStringFilter, HoldsBackAPossibleStopStringPrefix) {
    StopStringFilter filter({"</answer>"});
    EXPECT_EQ(filter.push("The result is 4</"), "The result is 4");
    EXPECT_EQ(filter.push("ans"), "");
    EXPECT_EQ(filter.push("wer> and more"), "");
    EXPECT_TRUE(filter.stopped());
    EXPECT_EQ(filter.push("ignored"), "");
    EXPECT_EQ(filter.flush(), "");
}

TEST(StopStringFilter, ReleasesHeldTextThatTurnsOutDifferent) {
    StopStringFilter filter({"STOP", "\n\n"});
    EXPECT_EQ(filter.push("a ST"), "a ");
    EXPECT_EQ(filter.push("OOL\n"), "STOOL");
    EXPECT_FALSE(filter.stopped());
    EXPECT_EQ(filter.flush(), "\n");
}

TEST(StopStringFilter, EarliestOfSeveralStopStringsWins) {
    StopStringFilter filter({"world", "lo"});
    EXPECT_EQ(filter.push("hello world"), "hel");
    EXPECT_TRUE(filter.stopped());
}

TEST(StopStringFilter, NoStopStringsPassesEverything) {
    StopStringFilter filter({});
    EXPECT_EQ(filter.push("anything <|end|>"), "anything <|end|>");
    EXPECT_EQ(filter.flush(), "");
}

}  // namespace
}  // namespace mimir
