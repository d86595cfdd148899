#include "agent/snippet_library.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "support/files.h"

namespace mimir {
namespace {

using nlohmann::json;

Error manifest_error(const std::string& path, const std::string& what) {
    return Error{"manifest_invalid", path + ": " + what};
}

Result<std::vector<std::string>> string_list(const json& object, const char* key, const std::string& where) {
    if (!object.contains(key)) return std::vector<std::string>{};
    const json& list = object.at(key);
    if (!list.is_array()) return Error{"manifest_invalid", where + "." + key + " must be a list of strings"};
    std::vector<std::string> values;
    for (const json& value : list) {
        if (!value.is_string())
            return Error{"manifest_invalid", where + "." + key + " must be a list of strings"};
        values.push_back(value.get<std::string>());
    }
    return values;
}

Result<Snippet> parse_entry(const json& entry, const std::string& where) {
    if (!entry.is_object()) return Error{"manifest_invalid", where + " must be an object"};
    const auto name = entry.find("name");
    const auto file = entry.find("file");
    if (name == entry.end() || !name->is_string() || name->get<std::string>().empty())
        return Error{"manifest_invalid", where + ".name must be a non-empty string"};
    if (file == entry.end() || !file->is_string() || file->get<std::string>().empty())
        return Error{"manifest_invalid", where + ".file must be a non-empty string"};
    Snippet snippet{.name = *name, .path = *file};
    if (const auto always = entry.find("always"); always != entry.end()) {
        if (!always->is_boolean()) return Error{"manifest_invalid", where + ".always must be true or false"};
        snippet.always = *always;
    }
    if (const auto order = entry.find("order"); order != entry.end()) {
        if (!order->is_number_integer())
            return Error{"manifest_invalid", where + ".order must be an integer"};
        snippet.order = *order;
    }
    Result<std::vector<std::string>> labels = string_list(entry, "labels", where);
    if (!labels) return labels.error();
    snippet.labels = std::move(*labels);
    return snippet;
}

Result<SnippetLibrary> parse_manifest(const std::string& path, const std::string& text) {
    const json manifest = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (manifest.is_discarded() || !manifest.is_object()) return manifest_error(path, "not a JSON object");
    if (manifest.value("format", std::string()) != kSnippetManifestFormat)
        return manifest_error(path, "format must be \"" + std::string(kSnippetManifestFormat) + "\"");
    if (!manifest.contains("version") || manifest["version"] != kSnippetManifestVersion)
        return manifest_error(path, "version must be " + std::to_string(kSnippetManifestVersion));
    if (!manifest.contains("snippets") || !manifest["snippets"].is_array() || manifest["snippets"].empty())
        return manifest_error(path, "snippets must be a non-empty list");
    SnippetLibrary library{.manifest_path = path};
    Result<std::vector<std::string>> labels = string_list(manifest, "labels", "manifest");
    Result<std::vector<std::string>> follow_up = string_list(manifest, "follow_up_labels", "manifest");
    if (!labels) return manifest_error(path, labels.error().message);
    if (!follow_up) return manifest_error(path, follow_up.error().message);
    library.labels = std::move(*labels);
    library.follow_up_labels = std::move(*follow_up);
    const std::set<std::string> known(library.labels.begin(), library.labels.end());
    std::set<std::string> names;
    for (size_t i = 0; i < manifest["snippets"].size(); ++i) {
        const std::string where = "snippets[" + std::to_string(i) + "]";
        Result<Snippet> snippet = parse_entry(manifest["snippets"][i], where);
        if (!snippet) return manifest_error(path, snippet.error().message);
        if (!names.insert(snippet->name).second)
            return manifest_error(path, where + ".name \"" + snippet->name + "\" is used twice");
        for (const std::string& label : snippet->labels)
            if (!known.count(label))
                return manifest_error(path, where + ".labels: \"" + label + "\" is not in \"labels\"");
        library.snippets.push_back(std::move(*snippet));
    }
    for (const std::string& label : library.follow_up_labels)
        if (!known.count(label))
            return manifest_error(path, "follow_up_labels: \"" + label + "\" is not in \"labels\"");
    if (std::none_of(library.snippets.begin(), library.snippets.end(),
                     [](const Snippet& s) { return s.always; }))
        return manifest_error(path, "no snippet is always present (identity and tone must be)");
    return library;
}

std::string without_trailing_space(std::string text) {
    const size_t end = text.find_last_not_of(" \t\r\n");
    text.erase(end == std::string::npos ? 0 : end + 1);
    return text;
}

Status read_snippet(Snippet& snippet, const std::filesystem::path& dir, const TokenCounter& count_tokens,
                    int prompt_budget) {
    snippet.path = (dir / snippet.path).string();
    Result<std::string> text = read_text_file(snippet.path);
    if (!text)
        return Status::failure("snippet_missing",
                               snippet.path + ": snippet \"" + snippet.name + "\": " + text.error().message);
    snippet.text = without_trailing_space(std::move(*text));
    if (snippet.text.find_first_not_of(" \t\r\n") == std::string::npos)
        return Status::failure("snippet_empty", snippet.path + ": snippet \"" + snippet.name + "\" is empty");
    snippet.tokens = count_tokens(snippet.text);
    if (snippet.tokens > prompt_budget)
        return Status::failure("snippet_over_budget", snippet.path + ": snippet \"" + snippet.name +
                                                          "\" takes " + std::to_string(snippet.tokens) +
                                                          " tokens, over the prompt budget of " +
                                                          std::to_string(prompt_budget));
    return ok_status();
}

}  // namespace

Result<SnippetLibrary> load_snippet_library(const std::string& dir, const TokenCounter& count_tokens,
                                            int prompt_budget) {
    const std::string path = (std::filesystem::path(dir) / "manifest.json").string();
    Result<std::string> text = read_text_file(path);
    if (!text) return Error{"manifest_invalid", text.error().message};
    Result<SnippetLibrary> library = parse_manifest(path, *text);
    if (!library) return library;
    for (Snippet& snippet : library->snippets)
        if (Status read = read_snippet(snippet, dir, count_tokens, prompt_budget); !read) return read.error();
    std::stable_sort(library->snippets.begin(), library->snippets.end(),
                     [](const Snippet& a, const Snippet& b) {
                         return a.always != b.always ? a.always : a.order < b.order;
                     });
    int always_tokens = 0;
    for (const Snippet& snippet : library->snippets)
        if (snippet.always) always_tokens += snippet.tokens;
    if (always_tokens > prompt_budget)
        return Error{"snippet_over_budget",
                     path + ": the always-present snippets take " + std::to_string(always_tokens) +
                         " tokens, over the prompt budget of " + std::to_string(prompt_budget)};
    return library;
}

}  // namespace mimir
