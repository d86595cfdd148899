#include "serve/static_assets.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace mimir::serve {
namespace {

TEST(StaticAssets, ServesThePageAndItsLibrariesFromTheBinary) {
    auto index = find_static_asset("/");
    ASSERT_TRUE(index.ok());
    EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
    EXPECT_NE(index->body.find("id=\"status-button\""), std::string_view::npos);
    EXPECT_EQ(index->cache_control, "no-cache");
    for (const char* path : {"/app.js", "/render.js", "/status.js", "/style.css", "/vendor/marked.umd.js",
                             "/vendor/purify.min.js", "/vendor/katex.min.js", "/vendor/katex.min.css",
                             "/vendor/fonts/KaTeX_Main-Regular.woff2"}) {
        auto asset = find_static_asset(path);
        ASSERT_TRUE(asset.ok()) << path;
        EXPECT_GT(asset->body.size(), 100u) << path;
    }
    EXPECT_EQ(find_static_asset("/vendor/katex.min.css")->content_type, "text/css; charset=utf-8");
    EXPECT_EQ(find_static_asset("/vendor/fonts/KaTeX_Main-Regular.woff2")->content_type, "font/woff2");
    EXPECT_EQ(find_static_asset("/app.js")->content_type, "text/javascript; charset=utf-8");
}

TEST(StaticAssets, ServesTheReviewViewAtSlashReview) {
    auto review = find_static_asset("/review");
    ASSERT_TRUE(review.ok());
    EXPECT_EQ(review->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(review->body, find_static_asset("/review.html")->body);
    EXPECT_NE(review->body.find("id=\"key-form\""), std::string_view::npos);
    for (const char* path : {"/review.js", "/review.css", "/common.js", "/feedback.js"})
        EXPECT_TRUE(find_static_asset(path).ok()) << path;
    EXPECT_EQ(find_static_asset("/review/").error().code, "not_found");
}

TEST(StaticAssets, PagesHaveNoInlineScriptAndNoCdn) {
    for (const char* page : {"/index.html", "/review.html"}) {
        SCOPED_TRACE(page);
        std::string_view html = find_static_asset(page)->body;
        size_t pos = 0;
        while ((pos = html.find("<script", pos)) != std::string_view::npos) {
            size_t end = html.find('>', pos);
            EXPECT_NE(html.substr(pos, end - pos).find("src="), std::string_view::npos) << "inline script";
            EXPECT_EQ(html.substr(end + 1, 9), "</script>") << "script with a body";
            pos = end;
        }
        EXPECT_EQ(html.find("http://"), std::string_view::npos);
        EXPECT_EQ(html.find("https://"), std::string_view::npos);
        EXPECT_FALSE(std::regex_search(std::string(html), std::regex(R"(\son[a-z]+\s*=)")))
            << "inline event handler";
    }
}

TEST(StaticAssets, RefusesTraversalAndOddPaths) {
    for (const char* path : {"/../etc/passwd", "/vendor/../../x", "/..", "\\windows", "/a\\b", "/%2e%2e/x",
                             "//etc/passwd", "relative", ""}) {
        auto asset = find_static_asset(path);
        ASSERT_FALSE(asset.ok()) << path;
        EXPECT_EQ(asset.error().code, "invalid_path") << path;
    }
    EXPECT_EQ(find_static_asset(std::string_view("/app.js\0x", 9)).error().code, "invalid_path");
    EXPECT_EQ(find_static_asset("/etc/passwd").error().code, "not_found");
}

TEST(StaticAssets, PolicyForbidsInlineScriptAndForeignOrigins) {
    std::string_view csp = kContentSecurityPolicy;
    EXPECT_NE(csp.find("script-src 'self'"), std::string_view::npos);
    EXPECT_EQ(csp.find("unsafe-eval"), std::string_view::npos);
    EXPECT_EQ(csp.find("script-src 'self' 'unsafe-inline'"), std::string_view::npos);
    EXPECT_NE(csp.find("object-src 'none'"), std::string_view::npos);
}

}  // namespace
}  // namespace mimir::serve
