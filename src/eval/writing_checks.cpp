// The coherence (writing) checks: dash runs, a complete last sentence, repetition; and the text helpers the
// checks share.
#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "eval/checks.h"

namespace mimir::eval {

std::string to_lower_ascii(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
        return c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c);
    });
    return lower;
}

int count_words(std::string_view text) {
    int words = 0;
    bool in_word = false;
    for (char c : text) {
        const bool space = std::isspace(static_cast<unsigned char>(c));
        if (!space && !in_word) ++words;
        in_word = !space;
    }
    return words;
}

std::string excerpt(std::string_view text, size_t begin, size_t end) {
    const size_t max_length = 60;
    end = std::min(end, text.size());
    if (end - begin > max_length) end = begin + max_length;
    // Never cut inside a UTF-8 sequence: continuation bytes are 10xxxxxx.
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    std::string span(text.substr(begin, end - begin));
    std::replace(span.begin(), span.end(), '\n', ' ');
    return span;
}

std::string without_code(std::string_view text) {
    std::string prose(text);
    auto blank = [&prose](size_t from, size_t to) {
        for (size_t i = from; i < to && i < prose.size(); ++i) {
            if (prose[i] != '\n') prose[i] = ' ';
        }
    };
    for (size_t open = prose.find("```"); open != std::string::npos; open = prose.find("```", open)) {
        size_t close = prose.find("```", open + 3);
        close = close == std::string::npos ? prose.size() : close + 3;
        blank(open, close);
        open = close;
    }
    for (size_t open = prose.find('`'); open != std::string::npos; open = prose.find('`', open)) {
        const size_t close = prose.find('`', open + 1);
        if (close == std::string::npos) break;
        blank(open, close + 1);
        open = close + 1;
    }
    return prose;
}

CheckResult check_dashes(const CheckInput& in) {
    const std::string prose = without_code(in.reply);
    // A run of two or more dashes ("--", "——", "- -") outside a Markdown rule or table.
    static const RE2 run(R"(((?:-|–|—)[ ]?(?:-|–|—)+))");
    static const RE2 rule_or_table(R"(^\s*[-|: ]*$)");
    re2::StringPiece input(prose), dashes;
    while (RE2::FindAndConsume(&input, run, &dashes)) {
        const size_t at = dashes.data() - prose.data();
        const size_t line_start = prose.rfind('\n', at) == std::string::npos ? 0 : prose.rfind('\n', at) + 1;
        const size_t line_end = std::min(prose.find('\n', at), prose.size());
        if (RE2::FullMatch(prose.substr(line_start, line_end - line_start), rule_or_table)) continue;
        return {Outcome::failed, "dash run \"" + excerpt(in.reply, at, at + dashes.size()) + "\""};
    }
    // Dashes used as punctuation (an em dash, a spaced en dash or hyphen): a pair (an aside) is fine, more
    // only in a long reply.
    static const RE2 punctuation_dash(R"((—| – | - ))");  // an unspaced en dash is a range: 1990–2000
    re2::StringPiece rest(prose), dash;
    int count = 0;
    size_t first_at = 0;
    while (RE2::FindAndConsume(&rest, punctuation_dash, &dash)) {
        if (count++ == 0) first_at = dash.data() - prose.data();
    }
    const int allowed = std::max(2, count_words(prose) / 50);
    if (count > allowed) {
        return {Outcome::failed, std::to_string(count) + " dashes as punctuation (at most " +
                                     std::to_string(allowed) + "), first \"" +
                                     excerpt(in.reply, first_at > 10 ? first_at - 10 : 0, first_at + 12) +
                                     "\""};
    }
    return {};
}

CheckResult check_complete(const CheckInput& in) {
    // Emoticons and emoji at the end are the tone checks' concern; the sentence before them must be finished.
    const std::string_view text = trim_trailing_decoration(in.reply);
    if (text.empty()) return {Outcome::failed, "empty reply"};
    if (text.ends_with("```") || text.ends_with("$$") || text.ends_with("\\]")) return {};
    // The last line may be a list item or table row, which need no full stop.
    const size_t line_start = text.rfind('\n') == std::string_view::npos ? 0 : text.rfind('\n') + 1;
    static const RE2 list_or_table(R"(^\s*(?:[-*+]|\d+[.)]|\|)\s*.*)");
    static const RE2 sentence_end(R"((?s).*[.!?…][\"'”’)\]*_]*$)");
    if (RE2::FullMatch(text, sentence_end)) return {};
    if (line_start > 0 && RE2::FullMatch(text.substr(line_start), list_or_table)) return {};
    const size_t tail = text.size() > 30 ? text.size() - 30 : 0;
    return {Outcome::failed, "ends mid-sentence \"..." + excerpt(text, tail, text.size()) + "\""};
}

namespace {

std::vector<std::string> lower_words(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'' ||
            static_cast<unsigned char>(c) >= 0x80) {
            word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!word.empty()) {
            words.push_back(std::move(word));
            word.clear();
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

}  // namespace

CheckResult check_no_repetition(const CheckInput& in) {
    const std::vector<std::string> words = lower_words(without_code(in.reply));
    // The same word three times in a row ("pizza pizza pizza").
    for (size_t i = 2; i < words.size(); ++i) {
        if (words[i] == words[i - 1] && words[i] == words[i - 2]) {
            return {Outcome::failed, "\"" + words[i] + "\" three times in a row"};
        }
    }
    // The same run of `n` words twice: a repeated sentence or a loop.
    const size_t n = 6;
    std::map<std::string, int> seen;
    for (size_t i = 0; i + n <= words.size(); ++i) {
        std::string gram;
        for (size_t j = i; j < i + n; ++j) gram += words[j] + " ";
        if (++seen[gram] == 2) {
            gram.pop_back();
            return {Outcome::failed, "repeated \"" + gram + "\""};
        }
    }
    return {};
}

}  // namespace mimir::eval
