// The tutor prompt's snippets: short texts kept as files in a folder (data/prompts/), listed by a manifest
// (manifest.json) that gives each one's file, whether it is always present, its place in the prompt and the
// classifier labels that select it. Loaded and checked once at start, so a bad file stops `mimir serve`
// (or, with --prompt-fallback, falls back to the fixed prompt) instead of failing a request.
#pragma once

#include <string>
#include <vector>

#include "model/token_counter.h"
#include "support/result.h"

namespace mimir {

inline constexpr std::string_view kSnippetManifestFormat = "mimir-prompt-snippets";
inline constexpr int kSnippetManifestVersion = 1;

struct Snippet {
    std::string name;
    std::string path;                 // the text file, as found
    std::string text;                 // without trailing white space
    bool always = false;              // present in every prompt (identity, tone), before any chosen one
    int order = 0;                    // place in the prompt: lower first
    std::vector<std::string> labels;  // classifier labels that select it
    int tokens = 0;                   // the text's own token count
};

struct SnippetLibrary {
    std::string manifest_path;
    std::vector<Snippet> snippets;    // always-present ones first, then by order
    std::vector<std::string> labels;  // every label a classifier may use with these snippets
    // Labels of turns too vague to choose by ("I don't get it"): the turn before is classified too.
    std::vector<std::string> follow_up_labels;
};

// Reads `dir`/manifest.json and every snippet it names, counting tokens with `count_tokens`.
// Errors, each naming the file (and the field): "manifest_invalid" (not JSON, another format or version,
// a missing or mistyped field, a duplicate name, a snippet label not in "labels", no always-present
// snippet), "snippet_missing", "snippet_empty", "snippet_over_budget" (one snippet, or the always-present
// ones together, over `prompt_budget` tokens).
Result<SnippetLibrary> load_snippet_library(const std::string& dir, const TokenCounter& count_tokens,
                                            int prompt_budget);

}  // namespace mimir
