// The coherence (writing) checks: dash runs, a complete last sentence, repetition; and the text helpers the
// checks share.
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
    // What a dash run and a punctuation dash are is agent/reply_flaws.h's, which the response guard repairs.
    const std::string prose = without_code(in.reply);
    const std::string_view text(prose);
    // A run of two or more dashes ("--", "——", "- -") outside a Markdown rule or table.
    for (size_t at = 0; at < text.size();) {
        const SpanMatch run = dash_run_at(text, at, /*complete=*/true);
        if (run.match != Match::yes) {
            ++at;
            continue;
        }
        const size_t line_start = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
        const size_t line_end = std::min(text.find('\n', at), text.size());
        if (!is_rule_or_table_line(text.substr(line_start, line_end - line_start))) {
            return {Outcome::failed, "dash run \"" + excerpt(in.reply, at, at + run.length) + "\""};
        }
        at += run.length;
    }
    // Dashes used as punctuation (an em dash, a spaced en dash or hyphen): a pair (an aside) is fine, more
    // only in a long reply.
    int count = 0;
    size_t first_at = 0;
    for (size_t at = 0; at < text.size(); ++at) {
        const SpanMatch dash = punctuation_dash_at(text, at, /*complete=*/true);
        if (dash.match != Match::yes) continue;
        if (count++ == 0) first_at = dash.length != 3 || text[at + 2] != '\x94' ? at - 1 : at;  // regex span
        at += dash.length - 1;
    }
    const int allowed = allowed_punctuation_dashes(count_words(prose));
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
    if (ends_sentence(text)) return {};
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
