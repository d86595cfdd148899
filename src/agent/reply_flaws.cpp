#include "agent/reply_flaws.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace mimir {

namespace {

// Whitespace as RE2's \s, which the checks' patterns used: no vertical tab.
bool is_pattern_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool one_of(char c, const char* set) {
    return c != '\0' && std::strchr(set, c) != nullptr;
}

// The code point starting at `at` when it is complete and valid; 0 otherwise.
uint32_t code_point_at(std::string_view text, size_t at, size_t* length) {
    const auto lead = static_cast<unsigned char>(text[at]);
    size_t n = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
    if (n == 0 || at + n > text.size()) return 0;
    uint32_t value = n == 1 ? lead : lead & (0x7F >> n);
    for (size_t i = 1; i < n; ++i) {
        const auto byte = static_cast<unsigned char>(text[at + i]);
        if ((byte & 0xC0) != 0x80) return 0;
        value = (value << 6) | (byte & 0x3F);
    }
    *length = n;
    return value;
}

// What may follow a face: the end, whitespace, . , ! ? " (or an emoji, when asked).
Match face_may_end(std::string_view text, size_t at, bool complete, bool emoji_or_dash_may_follow) {
    if (at >= text.size()) return complete ? Match::yes : Match::need_more;
    if (is_pattern_space(text[at]) || one_of(text[at], ".,!?\"")) return Match::yes;
    if (!emoji_or_dash_may_follow) return Match::no;
    if (dash_at(text, at) > 0 || text[at] == '\v') return Match::yes;  // \v: the guard's words end there too
    if (static_cast<unsigned char>(text[at]) < 0x80) return Match::no;
    size_t length = 0;
    const uint32_t code_point = code_point_at(text, at, &length);
    if (code_point == 0) return complete ? Match::no : Match::need_more;  // a sequence still arriving
    return is_emoji(code_point) ? Match::yes : Match::no;
}

// One alternative of the face grammar: the pattern's length when it matches at `at`, need_more when the
// text ends inside it.
SpanMatch ended(std::string_view text, size_t at, size_t length, bool complete,
                bool emoji_or_dash_may_follow) {
    const Match end = face_may_end(text, at + length, complete, emoji_or_dash_may_follow);
    return {end, end == Match::yes ? length : 0};
}

// [:;=][-'^]?[)(\]\[DPO3/\\|*]+  (a nose is optional; the mouth may repeat)
SpanMatch eyes_and_mouth(std::string_view text, size_t at, bool complete, bool emoji_or_dash_may_follow) {
    size_t i = at + 1;
    if (i < text.size() && one_of(text[i], "-'^")) ++i;
    const char* mouths = ")(][DPO3/\\|*";
    if (i >= text.size()) return {complete ? Match::no : Match::need_more, 0};
    if (!one_of(text[i], mouths)) return {};
    while (i < text.size() && one_of(text[i], mouths)) ++i;
    return ended(text, at, i - at, complete, emoji_or_dash_may_follow);
}

// [:;][-']?[pSo]
SpanMatch tongue(std::string_view text, size_t at, bool complete, bool emoji_or_dash_may_follow) {
    size_t i = at + 1;
    if (i < text.size() && one_of(text[i], "-'")) ++i;
    if (i >= text.size()) return {complete ? Match::no : Match::need_more, 0};
    if (!one_of(text[i], "pSo")) return {};
    return ended(text, at, i + 1 - at, complete, emoji_or_dash_may_follow);
}

// A fixed face such as "<3": yes, no, or need_more while the text so far is a prefix of it.
SpanMatch literal(std::string_view text, size_t at, std::string_view face, bool complete,
                  bool emoji_or_dash_may_follow) {
    const std::string_view rest = text.substr(at);
    if (rest.size() < face.size()) {
        return {!complete && face.starts_with(rest) ? Match::need_more : Match::no, 0};
    }
    if (!rest.starts_with(face)) return {};
    return ended(text, at, face.size(), complete, emoji_or_dash_may_follow);
}

const std::array<std::string_view, 3> kDashes = {"-", "\xE2\x80\x93", "\xE2\x80\x94"};  // - – —

}  // namespace

bool is_emoji(uint32_t code_point) {
    return (code_point >= 0x1F000 && code_point <= 0x1FAFF) ||  // pictographs, emoticons, flags, symbols
           (code_point >= 0x2600 && code_point <= 0x27BF) ||    // miscellaneous symbols, dingbats
           code_point == 0x2B50 || code_point == 0x2B55 || code_point == 0xFE0F || code_point == 0x200D;
}

bool may_precede_emoticon(char c) {
    return is_pattern_space(c) || c == '"';
}

SpanMatch emoticon_at(std::string_view text, size_t at, bool complete, bool emoji_or_dash_may_follow) {
    if (at >= text.size()) return {};
    const char c = text[at];
    if (c == ':' || c == ';' || c == '=') {
        const SpanMatch mouth = eyes_and_mouth(text, at, complete, emoji_or_dash_may_follow);
        if (mouth.match != Match::no || c == '=') return mouth;
        return tongue(text, at, complete, emoji_or_dash_may_follow);
    }
    const bool e = emoji_or_dash_may_follow;
    switch (c) {
        case '<':
            return literal(text, at, "<3", complete, e);
        case '^':
            return literal(text, at, "^_^", complete, e);
        case '-':
            return literal(text, at, "-_-", complete, e);
        case 'x':
            return literal(text, at, "xD", complete, e);
        case 'X':
            return literal(text, at, "XD", complete, e);
        default:
            return {};
    }
}

size_t dash_at(std::string_view text, size_t at) {
    for (std::string_view dash : kDashes) {
        if (text.substr(at).starts_with(dash)) return dash.size();
    }
    return 0;
}

SpanMatch dash_run_at(std::string_view text, size_t at, bool complete) {
    const size_t first = dash_at(text, at);
    if (first == 0) return {};
    size_t i = at + first;
    const Match more = complete ? Match::no : Match::need_more;
    if (i >= text.size()) return {more, 0};
    if (text[i] == ' ') {
        if (i + 1 >= text.size()) return {more, 0};
        if (dash_at(text, i + 1) == 0) return {};
        ++i;
    }
    if (dash_at(text, i) == 0) return {};
    while (i < text.size()) {
        const size_t dash = dash_at(text, i);
        if (dash == 0) return {Match::yes, i - at};
        i += dash;
    }
    return {complete ? Match::yes : Match::need_more, complete ? i - at : 0};
}

bool is_rule_or_table_line(std::string_view line) {
    size_t i = 0;
    while (i < line.size() && is_pattern_space(line[i])) ++i;
    for (; i < line.size(); ++i) {
        if (!one_of(line[i], "-|: ")) return false;
    }
    return true;
}

SpanMatch punctuation_dash_at(std::string_view text, size_t at, bool complete) {
    const size_t dash = dash_at(text, at);
    if (dash == 0) return {};
    if (dash == 3 && text[at + 2] == '\x94') return {Match::yes, dash};  // an em dash always
    if (at == 0 || text[at - 1] != ' ') return {};
    size_t line_start = text.rfind('\n', at);
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    if (text.substr(line_start, at - line_start).find_first_not_of(" \t") == std::string_view::npos)
        return {};
    const size_t after = at + dash;
    if (after + 1 >= text.size() && !complete) return {Match::need_more, 0};
    if (after >= text.size() || text[after] != ' ') return {};
    // A minus sign between numbers ("20 - 5", "(a + b) - 3") is arithmetic, not punctuation.
    const char left = at >= 2 ? text[at - 2] : ' ';
    const char right = after + 1 < text.size() ? text[after + 1] : ' ';
    const bool hyphen = dash == 1;
    if (hyphen && (std::isdigit(static_cast<unsigned char>(left)) || left == ')' ||
                   std::isdigit(static_cast<unsigned char>(right)) || right == '(')) {
        return {};
    }
    return {Match::yes, dash};
}

int allowed_punctuation_dashes(int prose_words) {
    return std::max(2, prose_words / 50);
}

SpanMatch shouting_run_at(std::string_view text, size_t at, bool complete) {
    size_t end = at;
    while (end < text.size() && (text[end] == '!' || text[end] == '?')) ++end;
    if (end == at) return {};
    if (end == text.size() && !complete) return {Match::need_more, 0};
    const std::string_view run = text.substr(at, end - at);
    const bool shouts =
        run.find("!!") != run.npos || run.find("!?") != run.npos || run.find("?!") != run.npos;
    return {shouts ? Match::yes : Match::no, shouts ? run.size() : 0};
}

bool ends_with_sentence_punctuation(std::string_view text) {
    // Closing quotes, brackets and emphasis may follow the full stop: "go." he said, (see above.), *done.*
    static const std::array<std::string_view, 8> closers = {
        "\"", "'", "\xE2\x80\x9D", "\xE2\x80\x99", ")", "]", "*", "_"};
    for (bool stripped = true; stripped && !text.empty();) {
        stripped = false;
        for (std::string_view closer : closers) {
            if (text.ends_with(closer)) {
                text.remove_suffix(closer.size());
                stripped = true;
                break;
            }
        }
    }
    return text.ends_with('.') || text.ends_with('!') || text.ends_with('?') ||
           text.ends_with("\xE2\x80\xA6");  // …
}

bool ends_sentence(std::string_view text) {
    if (text.ends_with("```") || text.ends_with("$$") || text.ends_with("\\]")) return true;
    if (ends_with_sentence_punctuation(text)) return true;
    // The last line may be a list item or table row: "- item", "* item", "+ item", "3. item", "2) item", "| a
    // |".
    const size_t newline = text.rfind('\n');
    if (newline == std::string_view::npos) return false;
    std::string_view line = text.substr(newline + 1);
    while (!line.empty() && is_pattern_space(line.front())) line.remove_prefix(1);
    if (line.empty()) return false;
    if (one_of(line.front(), "-*+|")) return true;
    size_t digits = 0;
    while (digits < line.size() && std::isdigit(static_cast<unsigned char>(line[digits]))) ++digits;
    return digits > 0 && digits < line.size() && (line[digits] == '.' || line[digits] == ')');
}

}  // namespace mimir
